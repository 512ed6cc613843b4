import Cort
import Foundation
import ReliabilityServices
import Synchronization
import Testing

/// A flood on three node processes, one of them slow: memory stays bounded
/// and every call ends (issue 4, "Tests with real processes").
@Suite("Backpressure with real processes", .serialized)
struct BackpressureTests {
    static let calls = 100_000

    /// How a flooded call ended, kept small: 100,000 of them are held at once.
    enum Ending: Sendable {
        case succeeded
        case failed(RemoteCallError.Code)
        case unexpected(String)
    }

    @Test("100,000 calls at once with a slow node: memory stays bounded, every call ends with a result or a clear error",
          arguments: [CallLimits.WhenFull.wait, .failFast])
    func flood(whenFull: CallLimits.WhenFull) async throws {
        let name = whenFull == .wait ? "flood.wait" : "flood.failFast"
        // node-0 takes 20 ms a call: 200 calls/s on its 4 replicas.
        try await NodeCluster.with(
            delays: [20, 0, 0], defaultTimeout: .seconds(2),
            callLimits: CallLimits(perNode: 64, perService: 192, whenFull: whenFull)
        ) { cluster in
            let ledger = cluster.ledger
            for index in 0..<30 {
                _ = try await ledger.read(key: "warm-\(index)")
            }
            let nodeMemoryBefore = cluster.nodes.compactMap { ResidentMemory.bytes(of: "\($0.pid)") }
            let before = try #require(ResidentMemory.bytes())
            let peak = Atomic(before)
            let done = Atomic(false)
            let start = ContinuousClock.now
            async let sampling: Void = {
                // Paced sampling while the flood runs, bounded by its own count.
                for _ in 0..<6_000 where !done.load(ordering: .relaxed) {
                    if let now = ResidentMemory.bytes() { peak.max(now, ordering: .relaxed) }
                    try? await Task.sleep(for: .milliseconds(10))
                }
            }()
            var succeeded = 0
            var failed: [String: Int] = [:]
            var unexpected: [String] = []
            var ended = 0
            await withTaskGroup(of: Ending.self) { group in
                for index in 0..<Self.calls {
                    group.addTask {
                        do {
                            let key = "\(index.isMultiple(of: 2) ? "r" : "a")-flood-\(index)"
                            let receipt = index.isMultiple(of: 2)
                                ? try await ledger.read(key: key) : try await ledger.append(key: key)
                            return receipt.key == key ? .succeeded : .unexpected("a receipt for \(receipt.key)")
                        } catch let error as RemoteCallError {
                            return .failed(error.code)
                        } catch {
                            return .unexpected("\(error)")
                        }
                    }
                }
                for await ending in group {
                    ended += 1
                    switch ending {
                    case .succeeded: succeeded += 1
                    case .failed(let code): failed["\(code)", default: 0] += 1
                    case .unexpected(let text): if unexpected.count < 5 { unexpected.append(text) }
                    }
                }
            }
            let elapsed = ContinuousClock.now - start
            done.store(true, ordering: .relaxed)
            await sampling
            let after = ResidentMemory.bytes() ?? 0
            let nodeMemoryAfter = cluster.nodes.compactMap { ResidentMemory.bytes(of: "\($0.pid)") }
            await cluster.close()
            let peakBytes = peak.load(ordering: .relaxed)

            Figure.report("\(name).elapsed", elapsed)
            Figure.report("\(name).succeeded", "\(succeeded)")
            Figure.report("\(name).failed", failed.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
            Figure.report("\(name).rss", "before \(ResidentMemory.megabytes(before)), peak \(ResidentMemory.megabytes(peakBytes)), "
                          + "after \(ResidentMemory.megabytes(after)); \((peakBytes - before) / Self.calls) bytes a call at the peak")
            Figure.report("\(name).nodeRSS", zip(nodeMemoryBefore, nodeMemoryAfter)
                .map { "\(ResidentMemory.megabytes($0)) → \(ResidentMemory.megabytes($1))" }.joined(separator: ", "))

            #expect(ended == Self.calls, "every call ended")
            #expect(unexpected.isEmpty, "every failure is a RemoteCallError: \(unexpected)")
            #expect(succeeded > 0, "calls got through the flood")
            // A full service makes a call wait for room until its deadline, or
            // fail at once; nothing else may go wrong when no node fails.
            let allowed: Set<String> = ["\(RemoteCallError.Code.deadlineExceeded)", "\(RemoteCallError.Code.overloaded)"]
            #expect(Set(failed.keys).isSubset(of: allowed), "calls fail only as waiting too long or overloaded: \(failed)")
            // Generous: the 100,000 suspended tasks and their results cost
            // about 2 KB each here; what must not happen is a queue of
            // requests or replies that grows with the flood.
            #expect(peakBytes - before < 600 * 1_048_576, "memory stays bounded under the flood")
            for (node, bytes) in zip(cluster.nodes, nodeMemoryAfter) {
                #expect(bytes < 300 * 1_048_576, "\(node.name)'s memory stays bounded: \(ResidentMemory.megabytes(bytes))")
            }
            let report = LoadReport(records: [], executions: try cluster.executions())
            #expect(report.nonIdempotentKeysRunTwice.isEmpty)
        }
    }
}
