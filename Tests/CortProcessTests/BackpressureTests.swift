import Cort
import Foundation
import ReliabilityServices
import Testing

extension ProcessScenarios {
    /// A flood on three node processes, one of them slow: memory stays bounded
    /// and every call ends (issue 4, "Tests with real processes").
    ///
    /// The flood runs in a `CortTestCaller` process, not in this one: its
    /// 100,000 tasks would hold this process's cooperative pool for seconds,
    /// and the suites running beside this one (deadlines, heartbeats) need it.
    @Suite("Backpressure with real processes")
    struct BackpressureTests {
        static let calls = 100_000

        @Test("100,000 calls at once with a slow node: memory stays bounded, every call ends with a result or a clear error",
              arguments: [CallLimits.WhenFull.wait, .failFast])
        func flood(whenFull: CallLimits.WhenFull) async throws {
            // node-0 takes 20 ms a call: 200 calls/s on its 4 replicas.
            try await NodeCluster.with(delays: [20, 0, 0]) { cluster in
                try await Self.floodScenario(cluster, whenFull: whenFull)
            }
        }

        static func floodScenario(_ cluster: NodeCluster, whenFull: CallLimits.WhenFull) async throws {
            let name = whenFull == .wait ? "flood.wait" : "flood.failFast"
            let caller = try await CallerProcess.start(arguments: [
                "--endpoints", cluster.nodes.map(\.endpoint).joined(separator: ","),
                "--calls", "\(calls)", "--per-node", "64", "--per-service", "192",
                "--when-full", whenFull == .wait ? "wait" : "fail-fast", "--timeout-ms", "2000",
            ])
            // The nodes' memory as the flood starts (the caller says when),
            // and once it has ended.
            let flooding = await caller.output.wait(timeout: .seconds(60)) { $0.ended || $0.lines.contains("flooding") }
            let nodeMemoryBefore = cluster.nodes.compactMap { ResidentMemory.bytes(of: "\($0.pid)") }
            let finished = await caller.finish(timeout: .seconds(120))
            let nodeMemoryAfter = cluster.nodes.compactMap { ResidentMemory.bytes(of: "\($0.pid)") }
            await cluster.close()
            guard flooding, finished.exit?.status == 0, finished.exit?.signalled == false else {
                throw ProcessTestFailure("CortTestCaller did not flood and exit 0: \(finished.exit?.description ?? "killed after 120 s"); "
                                         + "standard error: \(finished.errors)")
            }
            let report: FloodReport
            do {
                report = try FloodReport(lines: finished.lines)
            } catch {
                throw ProcessTestFailure("CortTestCaller's report cannot be read: \(error); it printed \(finished.lines)")
            }
            let cortShare = report.rssPeak - max(report.rssBare, report.rssBefore)

            Figure.report("\(name).elapsed", .milliseconds(report.elapsedMilliseconds))
            Figure.report("\(name).succeeded", "\(report.succeeded)")
            Figure.report("\(name).failed", report.failed.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
            for (code, message) in report.messages.sorted(by: { $0.key < $1.key }) {
                print("\(name): the first '\(code)' said: \(message)")
            }
            Figure.report("\(name).rss", "before \(ResidentMemory.megabytes(report.rssBefore)), peak \(ResidentMemory.megabytes(report.rssPeak)); "
                          + "100,000 bare suspended tasks peak at \(ResidentMemory.megabytes(report.rssBare)); "
                          + "cort's share \(ResidentMemory.megabytes(cortShare)), \(cortShare / calls) bytes a call")
            Figure.report("\(name).nodeRSS", zip(nodeMemoryBefore, nodeMemoryAfter)
                .map { "\(ResidentMemory.megabytes($0)) → \(ResidentMemory.megabytes($1))" }.joined(separator: ", "))

            #expect(report.ended == calls, "every call ended")
            #expect(report.unexpected.isEmpty, "every failure is a RemoteCallError: \(report.unexpected)")
            #expect(report.succeeded > 0, "calls got through the flood")
            // No node fails here: a call may only wait too long for room (or
            // for its answer) or find every node full.
            let allowed: Set<String> = ["\(RemoteCallError.Code.deadlineExceeded)", "\(RemoteCallError.Code.overloaded)"]
            #expect(Set(report.failed.keys).isSubset(of: allowed),
                    "calls fail only as waiting too long or overloaded: \(report.failed) \(report.messages)")
            // Generous (a debug build's async frames are large): what must not
            // happen is a queue of requests or replies that grows with the flood
            // beyond the calls' own state.
            #expect(cortShare < calls * 16_384, "cort needs under 16 KB a waiting call beyond its task")
            #expect(nodeMemoryAfter.count == cluster.nodes.count, "every node's memory was read")
            for (node, bytes) in zip(cluster.nodes, nodeMemoryAfter) {
                #expect(bytes < 256 * 1_048_576, "\(node.name)'s memory stays bounded: \(ResidentMemory.megabytes(bytes))")
            }
            let executions = LoadReport(records: [], executions: try cluster.executions())
            #expect(executions.nonIdempotentKeysRunTwice.isEmpty)
        }
    }
}
