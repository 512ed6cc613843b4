import BenchmarkSupport
import Cort
import CortZeroMQ
import Foundation

/// `cort-probe flood`: a node (a `cort-bench-node` process with its defaults:
/// replicas on the reactor, the default queue and limits), a
/// well-behaved caller in this process making one call at a time, and in
/// every other phase a flooding caller in a process of its own that sends
/// requests as fast as the node takes them and never reads an answer.
/// Quiet and flooded phases alternate for `--rounds` rounds, so the ratios
/// compare times measured minutes apart at most. Prints the victim's p50
/// and p99 in each phase, their ratios, and the node's resident memory when
/// idle and at its peak.
struct FloodProbe {
    static let usage = """
          cort-probe flood [--rounds N] [--seconds S] [--replicas N] [--reading]
            N rounds (default 5) of a quiet and a flooded phase of S seconds each (default 2);
            --reading: the flooder reads its answers (else it never reads)
          cort-probe flood-sender ENDPOINT HEXFRAME [reading]   (the flooding caller; started by `flood`)
        """

    var rounds = 5
    var phase = Duration.seconds(2)
    var replicas = 4
    var flooderReads = false

    init?(arguments: ArraySlice<String>) {
        var rest = arguments
        while let option = rest.popFirst() {
            switch option {
            case "--rounds":
                guard let value = rest.popFirst().flatMap(Int.init), value >= 1 else { return nil }
                rounds = value
            case "--seconds":
                guard let value = rest.popFirst().flatMap(Double.init), value > 0 else { return nil }
                phase = .milliseconds(Int(value * 1000))
            case "--reading":
                flooderReads = true
            case "--replicas":
                guard let value = rest.popFirst().flatMap(Int.init), value >= 1 else { return nil }
                replicas = value
            default:
                return nil
            }
        }
    }

    func run() async throws {
        let node = try ServerProcess(executable: ServerProcess.executable(named: "cort-bench-node"),
                                     arguments: ["tcp://127.0.0.1:0", "\(replicas)", "reactor"])
        defer { node.stop() }
        let frame = try await RawRequestFrame.captureEcho(payloadSize: PingPongDefaults.payloadSize)
        let victim = try await TypedCalls.connect(to: node.endpoint, payloadSize: PingPongDefaults.payloadSize)
        try await victim.roundTrips(2_000)
        guard let idle = ProcessMemory.resident(of: node.processIdentifier) else {
            throw BenchmarkFailure("cannot read the node's memory in /proc")
        }
        print("flood: a cort-bench-node process (Echo on \(replicas) replicas on the reactor, the default, default limits); "
              + "the victim makes one Echo.echo(_:) call at a time (\(PingPongDefaults.payloadSize)-byte payload) "
              + "from this process; the flooder, a process of its own, sends the same request with new ids as fast "
              + "as the node takes them and \(flooderReads ? "reads its answers" : "never reads"); \(rounds) rounds of a quiet and a flooded phase of \(phase)")
        print("node resident memory when idle: \(mebibytes(idle.now))")
        var quietRatios: [(p50: Double, p99: Double)] = []
        var peak = idle.now
        var failures = 0
        var flooded = 0
        for round in 1...rounds {
            let quiet = try await measure(victim, for: phase, sampling: node.processIdentifier, peak: &peak)
            let flooder = try ServerProcess(executable: ServerProcess.executable(named: "cort-probe"),
                                            arguments: ["flood-sender", node.endpoint, hex(frame.bytes)]
                                                + (flooderReads ? ["reading"] : []))
            // Let the flood fill the node's queue before measuring.
            try await Task.sleep(for: .milliseconds(300))
            let loud = try await measure(victim, for: phase, sampling: node.processIdentifier, peak: &peak)
            flooder.stop()
            failures += quiet.failures + loud.failures
            flooded += loud.latencies.count
            let ratio = (p50: loud.p50 / quiet.p50, p99: loud.p99 / quiet.p99)
            quietRatios.append(ratio)
            print("round \(round): quiet p50 \(micro(quiet.p50)) p99 \(micro(quiet.p99)) (\(quiet.latencies.count) calls); "
                  + "flooded p50 \(micro(loud.p50)) p99 \(micro(loud.p99)) (\(loud.latencies.count) calls); "
                  + String(format: "ratios p50 %.2f×, p99 %.2f×", ratio.p50, ratio.p99)
                  + (loud.failures + quiet.failures > 0 ? "; failed calls \(quiet.failures + loud.failures)" : ""))
        }
        let final = ProcessMemory.resident(of: node.processIdentifier)
        let hwm = max(peak, final?.peak ?? 0)
        print(String(format: "median ratio flooded/quiet: p50 %.2f× (%.2f–%.2f), p99 %.2f× (%.2f–%.2f)",
                     median(quietRatios.map(\.p50)), quietRatios.map(\.p50).min()!, quietRatios.map(\.p50).max()!,
                     median(quietRatios.map(\.p99)), quietRatios.map(\.p99).min()!, quietRatios.map(\.p99).max()!))
        print("node resident memory: idle \(mebibytes(idle.now)), peak \(mebibytes(hwm)) "
              + String(format: "(%.2f× idle)", Double(hwm) / Double(idle.now))
              + ", after the last flood \(mebibytes(final?.now ?? 0))")
        print("victim calls during floods: \(flooded); failed calls in all phases: \(failures)")
        await victim.stop()
    }

    private struct Phase {
        var latencies: [Duration] = []
        var failures = 0
        var p50: Double { quantile(0.5) }
        var p99: Double { quantile(0.99) }

        func quantile(_ q: Double) -> Double {
            let sorted = latencies.sorted()
            guard !sorted.isEmpty else { return .nan }
            let value = sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
            return Double(value.components.seconds) * 1e6 + Double(value.components.attoseconds) / 1e12
        }
    }

    private func measure(_ victim: TypedCalls, for duration: Duration, sampling pid: Int32,
                         peak: inout Int) async throws -> Phase {
        var phase = Phase()
        let end = ContinuousClock.now + duration
        var nextSample = ContinuousClock.now
        while ContinuousClock.now < end {
            let started = ContinuousClock.now
            do {
                try await victim.roundTrips(1)
                phase.latencies.append(ContinuousClock.now - started)
            } catch {
                phase.failures += 1
            }
            if ContinuousClock.now >= nextSample {
                nextSample = ContinuousClock.now + .milliseconds(50)
                if let memory = ProcessMemory.resident(of: pid) { peak = max(peak, memory.now, memory.peak) }
            }
        }
        return phase
    }

    private func micro(_ value: Double) -> String { String(format: "%.0f µs", value) }
    private func mebibytes(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
    private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
    private func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// The flooding caller: a DEALER that sends `frame` with a new id each
    /// time, as fast as the node takes it, and never reads (or, `reading`,
    /// takes every answer that has come in after each send). Prints a ready
    /// line first; ends at end of input (its parent closes it).
    static func flood(endpoint: String, hexFrame: String, reading: Bool) throws -> Never {
        var bytes: [UInt8] = []
        var index = hexFrame.startIndex
        while index < hexFrame.endIndex {
            let next = hexFrame.index(index, offsetBy: 2)
            guard let byte = UInt8(hexFrame[index..<next], radix: 16) else { throw BenchmarkFailure("bad hex frame") }
            bytes.append(byte)
            index = next
        }
        let frame = try RawRequestFrame(bytes: bytes)
        let context = try ZeroMQContext()
        let dealer = try ZeroMQSocket(.dealer, context: context)
        if !reading {
            // Read nothing: the node's answers pile up in its own queues.
            try dealer.set(.receiveHighWaterMark, 1)
        }
        try dealer.connect(endpoint)
        FileHandle.standardOutput.write(Data("ready flooding \(endpoint)\n".utf8))
        Thread.detachNewThread {
            while !FileHandle.standardInput.availableData.isEmpty {}
            exit(0)
        }
        var id: UInt64 = 1
        // Ends with the process, at end of input.
        while true {
            try dealer.blockingSend(ZeroMQMessage([frame.with(id: id)]))
            id &+= 1
            while reading, try dealer.tryReceive() != nil {}
        }
    }
}
