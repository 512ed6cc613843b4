import Cort
import Foundation
import ReliabilityServices
import Testing

extension ProcessScenarios {
    /// A network partition (issue 9): a node behind a veth link that goes
    /// down under load, with no FIN and no RST (``NetworkNamespace``), then
    /// comes back. Prints the figures the note quotes as `FIGURE partition.*` lines.
    @Suite("Network partitions with real processes",
           .enabled(if: NetworkNamespace.isAvailable, "needs root and ip (iproute2) to make a network namespace"))
    struct PartitionTests {
        /// A heartbeat and how long the link stays down.
        struct Setting: Sendable, CustomTestStringConvertible {
            var heartbeat: HeartbeatConfiguration
            var partition: Duration
            /// Prefixes the figures' names (`partition.` or `partition1s.`).
            var figures: String
            var testDescription: String { "\(heartbeat.interval) × \(heartbeat.liveness), link down \(partition)" }
        }

        /// The process tests' 100 ms heartbeats (dead after 300 ms of
        /// silence), and the issue's own measurement: 1 s heartbeats and a
        /// link down for 8 s.
        static let settings = [
            Setting(heartbeat: NodeCluster.heartbeat, partition: .seconds(4), figures: "partition"),
            Setting(heartbeat: HeartbeatConfiguration(interval: .seconds(1), liveness: 3), partition: .seconds(8),
                    figures: "partition1s"),
        ]

        /// What a loaded 2-core machine adds to the times the heartbeat
        /// promises (the reactor, the nodes and the load share both cores;
        /// 3.4 s was seen for a 3 s timeout with two CPU hogs and builds beside).
        static let margin = Duration.milliseconds(600)

        @Test("link down: the node is declared dead within its liveness timeout and its calls settle honestly; link up: it serves again within two heartbeats",
              arguments: settings)
        func linkDownAndUp(_ setting: Setting) async throws {
            try await NetworkNamespace.with { namespace in
                try await NodeCluster.with(delays: [0, 0], namespaces: [nil, namespace], heartbeat: setting.heartbeat) {
                    try await Self.linkDownScenario($0, namespace: namespace, setting: setting)
                }
            }
        }

        struct Times {
            var cut: Duration
            var cutDone: Duration
            var restore: Duration
            var restoreDone: Duration
            var atCut: NetworkNamespace.Statistics
            var beforeRestore: NetworkNamespace.Statistics
        }

        static func linkDownScenario(_ cluster: NodeCluster, namespace: NetworkNamespace, setting: Setting) async throws {
            let heartbeat = setting.heartbeat
            let healthy = "node-0"
            let partitioned = cluster.node("node-1").name
            let patience = NodeFailureTests.patience
            #expect(cluster.node("node-1").endpoint.hasPrefix("tcp://\(namespace.address):"))
            let (times, records) = try await withSteadyLoad(on: cluster.ledger) { load in
                try await warmUp(load, nodes: [healthy, partitioned])
                let cut = load.now()
                try await namespace.cut()
                let cutDone = load.now()
                let atCut = try namespace.statistics()
                let before = load.state.value.successes[healthy, default: 0]
                // Calls go to the partitioned node until it is suspect; all of
                // them must be settled once it is dead.
                let cutoff = cutDone + heartbeat.deadAfter
                let settled = await load.state.wait(timeout: patience) { state in
                    state.settled(startedBy: cutoff) && state.successes[healthy, default: 0] >= before + 300
                }
                try #require(settled, "the calls held by the partition were settled and node-0 served 300 more")
                try await Task.sleep(until: load.origin.advanced(by: cut + setting.partition), clock: .continuous)
                let beforeRestore = try namespace.statistics()
                let servedBefore = load.state.value.successes[partitioned, default: 0]
                let restore = load.now()
                try await namespace.restore()
                let restoreDone = load.now()
                #expect(try namespace.hasCarrier(), "the link is up again")
                let rejoined = await load.state.wait(timeout: patience) { state in
                    state.successes[partitioned, default: 0] >= servedBefore + 50
                }
                try #require(rejoined, "node-1 served 50 calls after its link came back")
                return Times(cut: cut, cutDone: cutDone, restore: restore, restoreDone: restoreDone,
                             atCut: atCut, beforeRestore: beforeRestore)
            }
            await cluster.close()
            let report = LoadReport(records: records, executions: try cluster.executions())
            let interval = heartbeat.interval

            // Held: calls the partition caught. They went to node-1 before it
            // was suspect (silent for one interval), so they waited at least
            // `liveness - 1` intervals, until it was declared dead (a call
            // on a live node takes milliseconds).
            let heldFor = heartbeat.deadAfter - interval
            let during = records.filter { $0.end > times.cut && $0.end <= times.restore }
            let held = during.filter { $0.end - $0.start >= heldFor }
            let unknown = during.filter { $0.failureCode == .outcomeUnknown }
            // A call that is not idempotent fails "outcome unknown" the moment
            // its node is declared dead; an idempotent one ends a re-run later.
            let detected = (unknown.isEmpty ? held : unknown).map(\.end).min().map { $0 - times.cut }
            let settled = held.map(\.end).max().map { $0 - times.cut }
            let servedAgain = report.firstSuccess(on: partitioned, after: times.restore)
            let afterDeath = times.cutDone + heartbeat.deadAfter + margin
            let duringPartition = records.filter { $0.start >= afterDeath && $0.end <= times.restore }
            let heldKeys = Set(held.map(\.key))
            let heldRanOnPartitioned = try ExecutionLog.entries(atPath: cluster.node(partitioned).logPath)
                .filter { heldKeys.contains($0.key) }.count

            Figure.report(setting.figures + ".detectedAfter", detected)
            Figure.report(setting.figures + ".settledAfter", settled)
            Figure.report(setting.figures + ".heldCalls",
                          report.heldCallSummary(endingAfter: times.cut, threshold: heldFor, before: times.restore))
            Figure.report(setting.figures + ".linkDown", times.restore - times.cut)
            Figure.report(setting.figures + ".linkCommands", "cut \(Figure.milliseconds(times.cutDone - times.cut)), "
                          + "restore \(Figure.milliseconds(times.restoreDone - times.restore))")
            let (atCut, beforeRestore) = (times.atCut, times.beforeRestore)
            Figure.report(setting.figures + ".linkDuringCut",
                          "rx +\(beforeRestore.receivedPackets - atCut.receivedPackets), "
                          + "tx +\(beforeRestore.transmittedPackets - atCut.transmittedPackets), "
                          + "tx dropped +\(beforeRestore.transmitDropped - atCut.transmitDropped)")
            Figure.report(setting.figures + ".servedAgainAfter", servedAgain)
            Figure.report(setting.figures + ".callsWhileDead",
                          "\(duringPartition.count) (\(healthy) \(duringPartition.filter { $0.node == healthy }.count))")
            Figure.report(setting.figures + ".heldCallsThatRanOnTheCutNode", "\(heldRanOnPartitioned) of \(held.count)")
            Figure.report(setting.figures + ".calls", "\(records.count)")
            Figure.report(setting.figures + ".failed", "\(report.failures.count) (\(report.failureSummary))")

            // The cut was silent: nothing came from the node's side, what the
            // caller sent vanished at the link, and the caller found out from
            // the silence (its liveness timeout), not from an error.
            #expect(beforeRestore.receivedPackets == atCut.receivedPackets,
                    "no packet crossed the cut link: \(atCut) → \(beforeRestore)")
            #expect(beforeRestore.transmitDropped > atCut.transmitDropped,
                    "the caller's packets vanished at the cut link: \(atCut) → \(beforeRestore)")
            let detection = try #require(detected, "the partition caught calls in flight on node-1")
            #expect(detection >= heartbeat.deadAfter - interval,
                    "node-1 was declared dead for its silence, not for an error, after \(detection)")
            // The link went down somewhere within `ip link set … down`, which
            // beside two CPU hogs once took 3 s: the timeout runs from that
            // command's end at the latest (and the check above from its start).
            let sinceCutDone = detection - (times.cutDone - times.cut)
            #expect(sinceCutDone <= heartbeat.deadAfter + margin,
                    """
                    node-1 was declared dead within its liveness timeout (\(heartbeat.deadAfter)) + \(margin) \
                    of its link going down: \(sinceCutDone) after the cut's command ended
                    """)

            expectHonestFailover(report)
            #expect(!report.failures.contains { $0.failureCode == .deadlineExceeded },
                    "the node was declared dead before the calls' deadlines")
            let elsewhere = duringPartition.filter { $0.node != healthy }
            #expect(!duringPartition.isEmpty && elsewhere.isEmpty,
                    "once node-1 was dead every call went to node-0: \(elsewhere.prefix(5).map { "\($0.key): \($0.outcome)" })")
            // A call that waited for the link was sent to node-1 while the link
            // was down: held from before the cut, or (a fault) sent to it dead.
            // Either started well before the restore. Calls this process
            // started in the last `margin` before it may have waited in the
            // caller for room and gone to node-1 once it was back: beside two
            // CPU hogs this process once ran 3.5 s late, its load started 8
            // calls at once less than 1 ms before the restore, and node-1,
            // back 134 ms later, ran them (dead, it was never sent any).
            let waitedForLink = records.filter {
                $0.node == partitioned && $0.start < times.restore - margin && $0.end > times.restore
            }
            #expect(waitedForLink.isEmpty, "no call waited for the link to come back: \(waitedForLink.prefix(5).map(\.key))")

            let servedAgainAfter = try #require(servedAgain, "node-1 served again")
            #expect(servedAgainAfter <= interval * 2 + margin,
                    "node-1 served again within two heartbeat intervals + \(margin) of the link coming back: \(servedAgainAfter)")
        }
    }
}
