import BenchmarkSupport
import Cort
import Foundation

/// `cort-probe curve`: the price of CURVE. Two `cort-bench-node` processes
/// with a service's defaults (`Echo` on 4 replicas on the reactor), one
/// in plaintext and one with CURVE (keys made here, the caller's public key
/// in the node's allow-list file), and a caller system for each in this
/// process, callers on the global pool. Each round measures, for both, one
/// call in flight for S seconds (every call's time: p50, p99) and then 64 in
/// flight for S seconds (throughput), plaintext first in odd rounds and
/// CURVE first in even ones, and prints the CURVE / plaintext ratios; then
/// their medians and ranges over the rounds. Beside them, the CPU time and
/// context switches per call of the node (from /proc) and of this process.
///
/// `--counts N` then counts per call exactly, with `perf stat -e
/// context-switches,task-clock -p` on the node and on this process, for N
/// and 2N calls (the difference over N leaves out the attaching and the
/// stopping), one in flight and 64 in flight, in both modes.
struct CurveProbe {
    static let usage = """
          cort-probe curve [--rounds N] [--seconds S] [--window N] [--replicas N] [--executor reactor|globalPool]
                           [--counts N]
            N rounds (default 5) of, for a plaintext and a CURVE node each: one call in flight for S seconds
            (default 2), then --window (default 64) in flight for S seconds; CURVE / plaintext ratios per round
            and their medians. --counts N: then perf stat on the node and the caller for N and 2N calls
          cort-probe curve-keys ALLOWLIST-FILE
            prints shell exports for a CURVE cort-bench-node (CORT_CURVE_SECRET_KEY,
            CORT_CURVE_ALLOWED_CALLERS_FILE, writing the file) and for `cort-probe calls` against it
            (CORT_BENCH_CALLER_SECRET_KEY)
        """

    var options = RoundOptions()
    var rounds: Int { options.rounds }
    var phase: Duration { options.phase }
    var window: Int { options.window }
    var replicas: Int { options.replicas }
    var executor = "reactor"
    var counts: Int? { options.counts }

    init?(arguments: ArraySlice<String>) {
        var rest = arguments
        while let option = rest.popFirst() {
            switch option {
            case "--executor":
                guard let value = rest.popFirst(), ["reactor", "globalPool"].contains(value) else { return nil }
                executor = value
            default:
                guard options.take(option, from: &rest) == true else { return nil }
            }
        }
    }

    /// One node and its caller.
    func run() async throws {
        let keys = try CurveKeys()
        defer { keys.remove() }
        let plainNode = try ServerProcess.benchNode(replicas: replicas, executor: executor)
        defer { plainNode.stop() }
        let curveNode = try ServerProcess.benchNode(replicas: replicas, executor: executor, curve: keys)
        defer { curveNode.stop() }
        let plain = ProbeSide(name: "plaintext", node: plainNode,
                         calls: try await TypedCalls.connect(to: plainNode.endpoint, payloadSize: PingPongDefaults.payloadSize))
        let curve = ProbeSide(name: "CURVE", node: curveNode,
                         calls: try await TypedCalls.connect(to: curveNode.endpoint, payloadSize: PingPongDefaults.payloadSize,
                                                             security: keys.callerSecurity))
        for side in [plain, curve] {
            try await side.calls.roundTrips(2_000)
            _ = try await side.calls.windowed(for: .milliseconds(300), window: window)
        }
        let executorText = executor == "reactor" ? "on the node's reactor (the default)" : "on the global pool"
        say("curve: two cort-bench-node processes (Echo on \(replicas) replicas \(executorText), default limits), "
              + "one plaintext, one CURVE (its allow-list file names this caller's key); a caller system for each "
              + "in this process, callers on the global pool; Echo.echo(_:) with a \(PingPongDefaults.payloadSize)-byte "
              + "payload; per round and side: one call in flight for \(phase), then \(window) in flight for \(phase); "
              + "plaintext first in odd rounds, CURVE first in even ones")
        var p50Ratios: [Double] = []
        var p99Ratios: [Double] = []
        var throughputRatios: [Double] = []
        var all: [String: [RoundFigures]] = [:]
        for round in 1...rounds {
            let order = round % 2 == 1 ? [plain, curve] : [curve, plain]
            let figures = try await measureRound(order, phase: phase, window: window)
            let p = figures[plain.name]!, c = figures[curve.name]!
            p50Ratios.append(c.p50 / p.p50)
            p99Ratios.append(c.p99 / p.p99)
            throughputRatios.append(c.throughput / p.throughput)
            all[plain.name, default: []].append(p)
            all[curve.name, default: []].append(c)
            say("round \(round): one in flight: plaintext p50 \(micro(p.p50)) p99 \(micro(p.p99)) (\(p.latencies.count) calls), "
                  + "CURVE p50 \(micro(c.p50)) p99 \(micro(c.p99)) (\(c.latencies.count) calls); "
                  + String(format: "ratios p50 %.2f×, p99 %.2f×", c.p50 / p.p50, c.p99 / p.p99))
            say("round \(round): \(window) in flight: plaintext \(rate(p.throughput)), CURVE \(rate(c.throughput)); "
                  + String(format: "CURVE / plaintext %.2f", c.throughput / p.throughput))
            say("round \(round): per call, node | caller (CPU µs, context switches): one in flight: "
                  + "plaintext \(perCall(p.single, p.latencies.count)) | \(perCall(p.singleClient, p.latencies.count)), "
                  + "CURVE \(perCall(c.single, c.latencies.count)) | \(perCall(c.singleClient, c.latencies.count)); "
                  + "\(window) in flight: plaintext \(perCall(p.windowed, p.windowCalls)) | \(perCall(p.windowedClient, p.windowCalls)), "
                  + "CURVE \(perCall(c.windowed, c.windowCalls)) | \(perCall(c.windowedClient, c.windowCalls))")
        }
        say("median over \(rounds) rounds (range), CURVE / plaintext:")
        say("  p50, one in flight: \(summary(p50Ratios))× (aim ≤ 1.2×: \(median(p50Ratios) <= 1.2 ? "met" : "not met"))")
        say("  p99, one in flight: \(summary(p99Ratios))×")
        say("  throughput, \(window) in flight: \(summary(throughputRatios)) (aim ≥ 0.70: "
              + "\(median(throughputRatios) >= 0.7 ? "met" : "not met"))")
        for name in [plain.name, curve.name] {
            let rows = all[name]!
            let nodeSingle = rows.map { $0.single.cpuSeconds * 1e6 / Double($0.latencies.count) }
            let nodeWindow = rows.map { $0.windowed.cpuSeconds * 1e6 / Double($0.windowCalls) }
            let clientSingle = rows.map { $0.singleClient.cpuSeconds * 1e6 / Double($0.latencies.count) }
            let clientWindow = rows.map { $0.windowedClient.cpuSeconds * 1e6 / Double($0.windowCalls) }
            let switchesSingle = rows.map { Double($0.single.contextSwitches) / Double($0.latencies.count) }
            let switchesWindow = rows.map { Double($0.windowed.contextSwitches) / Double($0.windowCalls) }
            let head = "  \(name), medians: p50 \(micro(median(rows.map(\.p50)))), p99 \(micro(median(rows.map(\.p99)))), "
                + "\(rate(median(rows.map(\.throughput))))"
            let single = String(format: "node %.1f CPU µs, %.2f switches; caller %.1f CPU µs",
                                median(nodeSingle), median(switchesSingle), median(clientSingle))
            let windowed = String(format: "node %.1f CPU µs, %.2f switches; caller %.1f CPU µs",
                                  median(nodeWindow), median(switchesWindow), median(clientWindow))
            say(head + "; per call, one in flight: " + single + "; \(window) in flight: " + windowed)
        }
        if let counts {
            try await perfCounts(counts, sides: [plain, curve])
        }
        for side in [plain, curve] { await side.calls.stop() }
    }

    /// `perf stat` on the node and on this process for `n` and `2n` calls,
    /// one in flight and `window` in flight, in both modes; prints the
    /// differences per call.
    private func perfCounts(_ n: Int, sides: [ProbeSide]) async throws {
        say("perf stat -e context-switches,task-clock -p <pid>, (count at \(2 * n) calls − count at \(n)) / \(n):")
        for inFlight in [1, window] {
            for side in sides {
                var node: [PerfCounts] = []
                var client: [PerfCounts] = []
                for count in [n, 2 * n] {
                    try await side.calls.roundTrips(200)
                    let onNode = try PerfStat(pid: side.node.processIdentifier)
                    let onClient = try PerfStat(pid: getpid())
                    // perf prints nothing once it has attached: give it time.
                    try await Task.sleep(for: .milliseconds(300))
                    if inFlight == 1 {
                        try await side.calls.roundTrips(count)
                    } else {
                        try await side.calls.windowed(count, window: inFlight)
                    }
                    node.append(try onNode.finish())
                    client.append(try onClient.finish())
                }
                func per(_ values: [PerfCounts], _ key: KeyPath<PerfCounts, Double>) -> Double {
                    (values[1][keyPath: key] - values[0][keyPath: key]) / Double(n)
                }
                say("  \(side.name), \(inFlight) in flight: node "
                      + String(format: "%.2f context switches, %.1f CPU µs", per(node, \.contextSwitches),
                               per(node, \.taskClockMicroseconds))
                      + "; caller "
                      + String(format: "%.2f context switches, %.1f CPU µs", per(client, \.contextSwitches),
                               per(client, \.taskClockMicroseconds))
                      + String(format: " (node at %d: %.0f switches, %.1f ms; at %d: %.0f, %.1f ms)",
                               n, node[0].contextSwitches, node[0].taskClockMicroseconds / 1000,
                               2 * n, node[1].contextSwitches, node[1].taskClockMicroseconds / 1000))
            }
        }
    }

    /// `cort-probe curve-keys FILE`: fresh node and caller keys as shell
    /// exports, the caller's public key written to FILE (the node's allow-list).
    static func printKeys(allowListPath: String) throws {
        let node = try CurveKeyPair.generate()
        let caller = try CurveKeyPair.generate()
        try Data("\(caller.publicKey.z85)\n".utf8).write(to: URL(fileURLWithPath: allowListPath))
        // Z85 has no single quote.
        say("export \(CurveKeys.secretKeyVariable)='\(node.secretKey.z85)' "
              + "\(CurveKeys.allowedCallersFileVariable)='\(allowListPath)' "
              + "\(callerSecretKeyVariable)='\(caller.secretKey.z85)'")
    }

    /// The caller's secret key for `cort-probe calls` and its kin against a CURVE node.
    static let callerSecretKeyVariable = "CORT_BENCH_CALLER_SECRET_KEY"
}
