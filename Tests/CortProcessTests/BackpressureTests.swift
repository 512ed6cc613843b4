import Cort
import Foundation
import ReliabilityServices
import Testing

extension ProcessScenarios {
    /// A flood on three node processes, one of them slow: memory stays bounded
    /// and every call ends (issue 4, "Tests with real processes").
    @Suite("Backpressure with real processes")
    struct BackpressureTests {
        static let calls = 100_000

        /// How a flooded call ended, kept small: 100,000 of them are held at once.
        enum Ending: Sendable {
            case succeeded
            case failed(RemoteCallError.Code, String)
            case unexpected(String)
        }

        /// How the flood ended, counted.
        struct Tally: Sendable {
            var ended = 0
            var succeeded = 0
            var failed: [String: Int] = [:]
            /// The first message of each failure code.
            var messages: [String: String] = [:]
            var unexpected: [String] = []
        }

        @Test("100,000 calls at once with a slow node: memory stays bounded, every call ends with a result or a clear error",
              arguments: [CallLimits.WhenFull.wait, .failFast])
        func flood(whenFull: CallLimits.WhenFull) async throws {
            // node-0 takes 20 ms a call: 200 calls/s on its 4 replicas.
            try await NodeCluster.with(
                delays: [20, 0, 0], defaultTimeout: .seconds(2),
                callLimits: CallLimits(perNode: 64, perService: 192, whenFull: whenFull)
            ) { cluster in
                try await Self.floodScenario(cluster, name: whenFull == .wait ? "flood.wait" : "flood.failFast")
            }
        }

        static func floodScenario(_ cluster: NodeCluster, name: String) async throws {
            let ledger = cluster.ledger
            for index in 0..<30 {
                _ = try await ledger.read(key: "warm-\(index)")
            }
            // What 100,000 suspended tasks cost without cort, to tell cort's share.
            let bare = await ResidentMemory.peak {
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<calls {
                        group.addTask { try? await Task.sleep(for: .milliseconds(300)) }
                    }
                }
            }
            let nodeMemoryBefore = cluster.nodes.compactMap { ResidentMemory.bytes(of: "\($0.pid)") }
            let start = ContinuousClock.now
            let flood = await ResidentMemory.peak { await Self.flood(ledger) }
            let elapsed = ContinuousClock.now - start
            let nodeMemoryAfter = cluster.nodes.compactMap { ResidentMemory.bytes(of: "\($0.pid)") }
            await cluster.close()
            let tally = flood.result
            let cortShare = flood.peak - max(bare.peak, flood.before)

            Figure.report("\(name).elapsed", elapsed)
            Figure.report("\(name).succeeded", "\(tally.succeeded)")
            Figure.report("\(name).failed", tally.failed.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
            for (code, message) in tally.messages.sorted(by: { $0.key < $1.key }) {
                print("\(name): the first '\(code)' said: \(message)")
            }
            Figure.report("\(name).rss", "before \(ResidentMemory.megabytes(flood.before)), peak \(ResidentMemory.megabytes(flood.peak)); "
                          + "100,000 bare suspended tasks peak at \(ResidentMemory.megabytes(bare.peak)); "
                          + "cort's share \(ResidentMemory.megabytes(cortShare)), \(cortShare / calls) bytes a call")
            Figure.report("\(name).nodeRSS", zip(nodeMemoryBefore, nodeMemoryAfter)
                .map { "\(ResidentMemory.megabytes($0)) → \(ResidentMemory.megabytes($1))" }.joined(separator: ", "))

            #expect(tally.ended == calls, "every call ended")
            #expect(tally.unexpected.isEmpty, "every failure is a RemoteCallError: \(tally.unexpected)")
            #expect(tally.succeeded > 0, "calls got through the flood")
            // No node fails here: a call may only wait too long for room (or
            // for its answer) or find every node full.
            let allowed: Set<String> = ["\(RemoteCallError.Code.deadlineExceeded)", "\(RemoteCallError.Code.overloaded)"]
            #expect(Set(tally.failed.keys).isSubset(of: allowed),
                    "calls fail only as waiting too long or overloaded: \(tally.failed) \(tally.messages)")
            // Generous (a debug build's async frames are large): what must not
            // happen is a queue of requests or replies that grows with the flood
            // beyond the calls' own state.
            #expect(cortShare < calls * 16_384, "cort needs under 16 KB a waiting call beyond its task")
            for (node, bytes) in zip(cluster.nodes, nodeMemoryAfter) {
                #expect(bytes < 256 * 1_048_576, "\(node.name)'s memory stays bounded: \(ResidentMemory.megabytes(bytes))")
            }
            let report = LoadReport(records: [], executions: try cluster.executions())
            #expect(report.nonIdempotentKeysRunTwice.isEmpty)
        }

        /// Submits every call at once (half reads, half appends) and counts how they end.
        static func flood(_ ledger: Ledger) async -> Tally {
            await withTaskGroup(of: Ending.self) { group in
                for index in 0..<calls {
                    group.addTask {
                        let isRead = index.isMultiple(of: 2)
                        let key = "\(isRead ? "r" : "a")-flood-\(index)"
                        do {
                            let receipt = isRead ? try await ledger.read(key: key) : try await ledger.append(key: key)
                            return receipt.key == key ? .succeeded : .unexpected("a receipt for \(receipt.key)")
                        } catch let error as RemoteCallError {
                            return .failed(error.code, error.message)
                        } catch {
                            return .unexpected("\(error)")
                        }
                    }
                }
                var tally = Tally()
                for await ending in group {
                    tally.ended += 1
                    switch ending {
                    case .succeeded:
                        tally.succeeded += 1
                    case .failed(let code, let message):
                        tally.failed["\(code)", default: 0] += 1
                        if tally.messages["\(code)"] == nil { tally.messages["\(code)"] = message }
                    case .unexpected(let text):
                        if tally.unexpected.count < 5 { tally.unexpected.append(text) }
                    }
                }
                return tally
            }
        }
    }
}
