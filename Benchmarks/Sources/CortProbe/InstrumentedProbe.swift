import BenchmarkSupport
import Cort
import Foundation

/// `cort-probe instrumented`: the price of cort's own tracing and metrics
/// interceptors, on by default (`CortSystem.Configuration.instrumented`).
/// Two `cort-bench-node` processes with a service's defaults (`Echo` on 4
/// replicas on the reactor, the default), one with the default configuration and one
/// with `instrumented: false`, and a caller system for each in this process
/// (callers on the global pool), instrumented alike. Each round measures, for
/// both, one call in flight for S seconds (every call's time: p50, p99) and
/// then 64 in flight for S seconds (throughput), the default first in odd
/// rounds and `instrumented: false` first in even ones, with the CPU time and
/// context switches per call of the node (from /proc) and of this process;
/// it prints the default / `instrumented: false` ratios per round and their
/// medians and ranges.
///
/// With nothing bootstrapped (the default here) the interceptors only look
/// whether a tracer or a metrics backend is there. `--metrics prometheus`
/// bootstraps swift-prometheus's `PrometheusMetricsFactory` in both nodes
/// and in this process (before the caller systems start), so the default
/// side records every call; the baseline node then still records what no
/// interceptor sees (its queue depth and busy replicas), unless
/// `--bare-baseline` leaves the backend out of it.
///
/// `--counts N` then counts per call with `perf stat -e
/// context-switches,task-clock -p` on the node and on this process (over N
/// calls), in `--count-rounds` interleaved rounds;
/// `--mallocs N` counts calls of libc's allocation functions per call the
/// same way, through uprobes (see ``MallocProbes``).
struct InstrumentedProbe {
    static let usage = """
          cort-probe instrumented [--rounds N] [--seconds S] [--window N] [--replicas N]
                                  [--metrics none|prometheus] [--bare-baseline]
                                  [--counts N] [--count-rounds R] [--mallocs N] [--aa]
            N rounds (default 5) of, for a node and a caller with cort's interceptors (the default) and with
            instrumented: false: one call in flight for S seconds (default 2), then --window (default 64) in flight
            for S seconds; default / instrumented: false ratios per round and their medians. --metrics prometheus:
            swift-prometheus bootstrapped in the nodes and the caller (--bare-baseline: not in the baseline node).
            --counts N: then perf stat on the node and the caller over N calls, R rounds (default 3);
            --mallocs N: then the allocations per call of both (N and 2N calls), through uprobes on libc (root);
            --aa: the default on both sides (an A/A run: the noise, and any bias between the sides)
        """

    var options = RoundOptions()
    var rounds: Int { options.rounds }
    var phase: Duration { options.phase }
    var window: Int { options.window }
    var replicas: Int { options.replicas }
    var prometheus = false
    var bareBaseline = false
    var counts: Int? { options.counts }
    var countRounds = 3
    var mallocs: Int?
    /// Both sides with the default configuration: an A/A run, for the noise and any bias between the two sides.
    var sameOnBothSides = false

    init?(arguments: ArraySlice<String>) {
        var rest = arguments
        while let option = rest.popFirst() {
            switch option {
            case "--metrics":
                guard let value = rest.popFirst(), ["none", "prometheus"].contains(value) else { return nil }
                prometheus = value == "prometheus"
            case "--bare-baseline":
                bareBaseline = true
            case "--aa":
                sameOnBothSides = true
            case "--count-rounds":
                guard let value = rest.popFirst().flatMap(Int.init), (1...20).contains(value) else { return nil }
                countRounds = value
            case "--mallocs":
                guard let value = rest.popFirst().flatMap(Int.init), (100...1_000_000).contains(value) else { return nil }
                mallocs = value
            default:
                guard options.take(option, from: &rest) == true else { return nil }
            }
        }
        if bareBaseline && !prometheus { return nil }
    }

    /// One node and its caller.
    func run() async throws {
        // Before any system starts: a system reads the bootstrapped factory as it starts.
        let registry = prometheus ? BenchInstrumentation.bootstrapPrometheus() : nil
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cort-probe-instrumented-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func dumpPath(_ name: String) -> String? {
            prometheus ? folder.appendingPathComponent("\(name).prom").path : nil
        }
        let onNode = try ServerProcess.benchNode(replicas: replicas, instrumented: true, prometheus: prometheus,
                                                 metricsDump: dumpPath("instrumented"))
        defer { onNode.stop() }
        let offNode = try ServerProcess.benchNode(replicas: replicas, instrumented: sameOnBothSides,
                                                  prometheus: prometheus && !bareBaseline,
                                                  metricsDump: dumpPath("uninstrumented"))
        defer { offNode.stop() }
        let on = ProbeSide(name: "default", node: onNode,
                      calls: try await TypedCalls.connect(to: onNode.endpoint, payloadSize: PingPongDefaults.payloadSize),
                      dump: dumpPath("instrumented"))
        let off = ProbeSide(name: sameOnBothSides ? "default (A/A)" : "instrumented: false", node: offNode,
                       calls: try await TypedCalls.connect(to: offNode.endpoint, payloadSize: PingPongDefaults.payloadSize,
                                                           instrumented: sameOnBothSides),
                       dump: dumpPath("uninstrumented"))
        for side in [on, off] {
            try await side.calls.roundTrips(2_000)
            _ = try await side.calls.windowed(for: .milliseconds(300), window: window)
        }
        let backend = prometheus
            ? "PrometheusMetricsFactory bootstrapped in both nodes and this process"
                + (bareBaseline ? " (not in the baseline node)" : "")
            : "no tracer, no metrics backend bootstrapped"
        if sameOnBothSides {
            say("A/A run: the baseline side has the default configuration too; its lines still say instrumented: false")
        }
        say("instrumented: two cort-bench-node processes (Echo on \(replicas) replicas on the reactor, the default, default limits), "
              + "one with the default configuration (cort's tracing and metrics interceptors on), one with "
              + "instrumented: false; a caller system for each in this process, configured alike, callers on the "
              + "global pool; \(backend); Echo.echo(_:) with a \(PingPongDefaults.payloadSize)-byte payload; per round "
              + "and side: one call in flight for \(phase), then \(window) in flight for \(phase); the default first "
              + "in odd rounds, instrumented: false first in even ones")
        var ratios: [Ratio: [Double]] = [:]
        var all: [String: [RoundFigures]] = [:]
        for round in 1...rounds {
            let order = round % 2 == 1 ? [on, off] : [off, on]
            let figures = try await measureRound(order, phase: phase, window: window)
            let a = figures[on.name]!, b = figures[off.name]!
            all[on.name, default: []].append(a)
            all[off.name, default: []].append(b)
            let nodeSingle = Self.cpu(a.single, a.latencies.count) / Self.cpu(b.single, b.latencies.count)
            let callerSingle = Self.cpu(a.singleClient, a.latencies.count) / Self.cpu(b.singleClient, b.latencies.count)
            let nodeWindow = Self.cpu(a.windowed, a.windowCalls) / Self.cpu(b.windowed, b.windowCalls)
            let callerWindow = Self.cpu(a.windowedClient, a.windowCalls) / Self.cpu(b.windowedClient, b.windowCalls)
            ratios[.p50, default: []].append(a.p50 / b.p50)
            ratios[.p99, default: []].append(a.p99 / b.p99)
            ratios[.throughput, default: []].append(a.throughput / b.throughput)
            ratios[.nodeSingle, default: []].append(nodeSingle)
            ratios[.callerSingle, default: []].append(callerSingle)
            ratios[.nodeWindow, default: []].append(nodeWindow)
            ratios[.callerWindow, default: []].append(callerWindow)
            say("round \(round): one in flight: default p50 \(micro(a.p50)) p99 \(micro(a.p99)) (\(a.latencies.count) calls), "
                  + "instrumented: false p50 \(micro(b.p50)) p99 \(micro(b.p99)) (\(b.latencies.count) calls); "
                  + String(format: "ratios p50 %.3f×, p99 %.3f×", a.p50 / b.p50, a.p99 / b.p99))
            say("round \(round): \(window) in flight: default \(rate(a.throughput)), instrumented: false \(rate(b.throughput)); "
                  + String(format: "default / instrumented: false %.3f", a.throughput / b.throughput))
            say("round \(round): per call, node | caller (CPU µs, context switches): one in flight: "
                  + "default \(perCall(a.single, a.latencies.count)) | \(perCall(a.singleClient, a.latencies.count)), "
                  + "instrumented: false \(perCall(b.single, b.latencies.count)) | \(perCall(b.singleClient, b.latencies.count)); "
                  + "\(window) in flight: default \(perCall(a.windowed, a.windowCalls)) | \(perCall(a.windowedClient, a.windowCalls)), "
                  + "instrumented: false \(perCall(b.windowed, b.windowCalls)) | \(perCall(b.windowedClient, b.windowCalls)); "
                  + String(format: "CPU ratios node %.3f | caller %.3f, node %.3f | caller %.3f",
                           nodeSingle, callerSingle, nodeWindow, callerWindow))
        }
        say("median over \(rounds) rounds (range), default / instrumented: false:")
        say("  p50, one in flight: \(summary3(ratios[.p50]!))×")
        say("  p99, one in flight: \(summary3(ratios[.p99]!))×")
        say("  throughput, \(window) in flight: \(summary3(ratios[.throughput]!))")
        say("  CPU per call, one in flight: node \(summary3(ratios[.nodeSingle]!))×, caller \(summary3(ratios[.callerSingle]!))×")
        say("  CPU per call, \(window) in flight: node \(summary3(ratios[.nodeWindow]!))×, "
              + "caller \(summary3(ratios[.callerWindow]!))×")
        for name in [on.name, off.name] {
            let rows = all[name]!
            let nodeSingle = rows.map { Self.cpu($0.single, $0.latencies.count) }
            let nodeWindow = rows.map { Self.cpu($0.windowed, $0.windowCalls) }
            let clientSingle = rows.map { Self.cpu($0.singleClient, $0.latencies.count) }
            let clientWindow = rows.map { Self.cpu($0.windowedClient, $0.windowCalls) }
            let switchesSingle = rows.map { Double($0.single.contextSwitches) / Double($0.latencies.count) }
            let switchesWindow = rows.map { Double($0.windowed.contextSwitches) / Double($0.windowCalls) }
            let clientSwitchesSingle = rows.map { Double($0.singleClient.contextSwitches) / Double($0.latencies.count) }
            let clientSwitchesWindow = rows.map { Double($0.windowedClient.contextSwitches) / Double($0.windowCalls) }
            let head = "  \(name), medians: p50 \(micro(median(rows.map(\.p50)))), p99 \(micro(median(rows.map(\.p99)))), "
                + "\(rate(median(rows.map(\.throughput))))"
            let format = "node %.1f CPU µs, %.2f switches; caller %.1f CPU µs, %.2f switches"
            let single = String(format: format, median(nodeSingle), median(switchesSingle), median(clientSingle),
                                median(clientSwitchesSingle))
            let windowed = String(format: format, median(nodeWindow), median(switchesWindow), median(clientWindow),
                                  median(clientSwitchesWindow))
            say(head + "; per call, one in flight: " + single + "; \(window) in flight: " + windowed)
        }
        if let counts {
            try await perfCounts(counts, sides: [on, off])
        }
        if let mallocs {
            try await mallocCounts(mallocs, sides: [on, off])
        }
        for side in [on, off] { await side.calls.stop() }
        if prometheus {
            // What the backends recorded: the proof that the default side recorded every call.
            let callerText = registry.map { String(decoding: $0.emitToBuffer(), as: UTF8.self) } ?? ""
            let recorded = BenchInstrumentation.total(of: "cort_client_calls_total", in: callerText)
            await onNode.terminate()
            await offNode.terminate()
            var line = String(format: "recorded: this process's cort_client_calls_total %.0f", recorded)
            for side in [on, off] {
                guard let dump = side.dump, let text = try? String(contentsOfFile: dump, encoding: .utf8) else {
                    line += "; \(side.name) node: no registry"
                    continue
                }
                line += String(format: "; %@ node: cort_server_calls_total %.0f, cort_server_busy_replicas series %d",
                               side.name, BenchInstrumentation.total(of: "cort_server_calls_total", in: text),
                               text.split(separator: "\n").filter { $0.hasPrefix("cort_server_busy_replicas") }.count)
            }
            say(line)
        }
    }

    private enum Ratio: Hashable {
        case p50, p99, throughput, nodeSingle, callerSingle, nodeWindow, callerWindow
    }

    /// `perf stat` on the node and on this process over `n` calls, one in
    /// flight and `window` in flight, both sides in turn (the order
    /// alternating), `countRounds` times; prints the counts per call and the
    /// default / `instrumented: false` ratios of the CPU time. (One count
    /// over n calls, not the difference between n and 2n: at 64 in flight
    /// the two runs often fall into different regimes, and the difference
    /// is then noise. perf attaches 300 ms before the calls; the idle
    /// processes use next to nothing in it.)
    private func perfCounts(_ n: Int, sides: [ProbeSide]) async throws {
        say("perf stat -e context-switches,task-clock -p <pid>, count over \(n) calls / \(n), \(countRounds) rounds:")
        for inFlight in [1, window] {
            var nodeRatios: [Double] = []
            var callerRatios: [Double] = []
            var perSide: [String: [(node: Double, caller: Double, nodeSwitches: Double, callerSwitches: Double)]] = [:]
            for countRound in 1...countRounds {
                var cpu: [String: (node: Double, caller: Double)] = [:]
                for side in countRound % 2 == 1 ? sides : sides.reversed() {
                    let (node, caller) = try await Self.count(n, side: side, inFlight: inFlight, events: PerfStat.standardEvents)
                    let figures = (node: node.taskClockMicroseconds / Double(n), caller: caller.taskClockMicroseconds / Double(n),
                                   nodeSwitches: node.contextSwitches / Double(n),
                                   callerSwitches: caller.contextSwitches / Double(n))
                    cpu[side.name] = (figures.node, figures.caller)
                    perSide[side.name, default: []].append(figures)
                    say("  round \(countRound), \(inFlight) in flight, \(side.name): node "
                          + String(format: "%.1f CPU µs, %.2f context switches", figures.node, figures.nodeSwitches)
                          + "; caller "
                          + String(format: "%.1f CPU µs, %.2f context switches", figures.caller, figures.callerSwitches))
                }
                nodeRatios.append(cpu[sides[0].name]!.node / cpu[sides[1].name]!.node)
                callerRatios.append(cpu[sides[0].name]!.caller / cpu[sides[1].name]!.caller)
            }
            for side in sides {
                let rows = perSide[side.name]!
                say("  \(inFlight) in flight, \(side.name), medians: node "
                      + String(format: "%.1f CPU µs, %.2f context switches; caller %.1f CPU µs, %.2f context switches",
                               median(rows.map(\.node)), median(rows.map(\.nodeSwitches)),
                               median(rows.map(\.caller)), median(rows.map(\.callerSwitches))))
            }
            say("  \(inFlight) in flight, CPU per call, default / instrumented: false: node \(summary3(nodeRatios))×, "
                  + "caller \(summary3(callerRatios))×")
        }
    }

    /// Calls of libc's allocation functions per call, on the node and in
    /// this process, through uprobes: N and 2N calls, one in flight and
    /// `window` in flight, both sides.
    private func mallocCounts(_ n: Int, sides: [ProbeSide]) async throws {
        let probes = try MallocProbes()
        defer { probes.remove() }
        say("allocations per call (uprobes on libc's \(MallocProbes.functions.joined(separator: ", "))), "
              + "(count at \(2 * n) calls − count at \(n)) / \(n):")
        for inFlight in [1, window] {
            var perSide: [String: (node: Double, caller: Double)] = [:]
            for side in sides {
                let (node, caller) = try await Self.difference(n, side: side, inFlight: inFlight, events: probes.events)
                perSide[side.name] = (node.allocations, caller.allocations)
                let detail = MallocProbes.functions.map { function in
                    let key = "\(MallocProbes.group):\(function)"
                    return String(format: "%@ %.2f | %.2f", function, node.values[key] ?? 0, caller.values[key] ?? 0)
                }.joined(separator: ", ")
                say("  \(inFlight) in flight, \(side.name): node "
                      + String(format: "%.2f, caller %.2f (node | caller: ", node.allocations, caller.allocations)
                      + detail + ")")
            }
            let a = perSide[sides[0].name]!, b = perSide[sides[1].name]!
            say("  \(inFlight) in flight, default − instrumented: false: "
                  + String(format: "node %+.2f, caller %+.2f allocations per call", a.node - b.node, a.caller - b.caller))
        }
    }

    /// `perf stat -e events` on the side's node and on this process over `n` calls.
    private static func count(_ n: Int, side: ProbeSide, inFlight: Int,
                              events: [String]) async throws -> (node: PerfCounts, caller: PerfCounts) {
        try await side.calls.roundTrips(200)
        let onNode = try PerfStat(pid: side.node.processIdentifier, events: events)
        let onCaller = try PerfStat(pid: getpid(), events: events)
        // perf prints nothing once it has attached: give it time.
        try await Task.sleep(for: .milliseconds(300))
        if inFlight == 1 {
            try await side.calls.roundTrips(n)
        } else {
            try await side.calls.windowed(n, window: inFlight)
        }
        return (try onNode.finish(), try onCaller.finish())
    }

    /// `perf stat -e events` on the side's node and on this process for `n`
    /// and for `2n` calls; the difference over `n`, per event.
    private static func difference(_ n: Int, side: ProbeSide, inFlight: Int,
                                   events: [String]) async throws -> (node: PerfCounts, caller: PerfCounts) {
        var node: [PerfCounts] = []
        var caller: [PerfCounts] = []
        for count in [n, 2 * n] {
            try await side.calls.roundTrips(200)
            let onNode = try PerfStat(pid: side.node.processIdentifier, events: events)
            let onCaller = try PerfStat(pid: getpid(), events: events)
            // perf prints nothing once it has attached: give it time.
            try await Task.sleep(for: .milliseconds(300))
            if inFlight == 1 {
                try await side.calls.roundTrips(count)
            } else {
                try await side.calls.windowed(count, window: inFlight)
            }
            node.append(try onNode.finish())
            caller.append(try onCaller.finish())
        }
        func per(_ values: [PerfCounts]) -> PerfCounts {
            var result = PerfCounts()
            for event in events {
                result.values[event] = ((values[1].values[event] ?? 0) - (values[0].values[event] ?? 0)) / Double(n)
            }
            return result
        }
        return (per(node), per(caller))
    }

    /// CPU µs per call.
    private static func cpu(_ counters: ProcessCounters, _ calls: Int) -> Double {
        calls > 0 ? counters.cpuSeconds * 1e6 / Double(calls) : .nan
    }

    /// "median (min–max)" to three decimals: the differences sought are a few per cent.
    private func summary3(_ values: [Double]) -> String {
        String(format: "%.3f (%.3f–%.3f)", median(values), values.min() ?? .nan, values.max() ?? .nan)
    }
}
