import Cort
import Foundation
import ReliabilityServices
import Testing

extension ProcessScenarios {
    /// Three `CortTestNode` processes, a caller in this process under steady
    /// load, and one node that dies, drains, freezes or restarts (issue 4,
    /// "Tests with real processes"). Each test prints the figures the note
    /// quotes as `FIGURE name=value` lines.
    @Suite("Node failures with real processes")
    struct NodeFailureTests {
        /// How long a scenario waits for an event before it gives up (not a
        /// timing assertion: the events take well under a second).
        static let patience = Duration.seconds(15)

        @Test("kill -9: every idempotent call succeeds, every other succeeds or fails 'outcome unknown', none runs twice")
        func killNine() async throws {
            try await NodeCluster.with(Self.killNineScenario)
        }

        static func killNineScenario(_ cluster: NodeCluster) async throws {
            let victim = cluster.node("node-1")
            let survivors = ["node-0", "node-2"]
            let (killed, records) = try await withSteadyLoad(on: cluster.ledger) { load in
                try await warmUp(load, nodes: ["node-0", "node-1", "node-2"])
                let before = load.state.value.successes(on: survivors)
                let killed = load.now()
                victim.send(SIGKILL)
                let exit = await victim.waitForExit(timeout: Self.patience)
                let gone = load.now()
                try #require(exit?.signalled == true, "node-1 was killed")
                // Calls sent until the caller finds out (within its liveness
                // timeout) may have gone to it.
                let cutoff = gone + NodeCluster.heartbeat.deadAfter
                let moved = await load.state.wait(timeout: Self.patience) { state in
                    state.settled(startedBy: cutoff) && state.successes(on: survivors) >= before + 1000
                }
                try #require(moved, "the calls sent to node-1 were settled and the survivors served 1000 more")
                return killed
            }
            await cluster.close()
            let report = LoadReport(records: records, executions: try cluster.executions())
            Figure.report("kill9.firstSuccessAfter", report.firstSuccess(after: killed, excluding: victim.name))
            Figure.report("kill9.settledAfter", report.settled(after: killed))
            Figure.report("kill9.heldCalls", report.heldCallSummary(endingAfter: killed))
            Figure.report("kill9.fullThroughputAfter", report.fullThroughput(after: killed))
            Figure.report("kill9.longestCall", report.longestCall(endingAfter: killed))
            Figure.report("kill9.calls", "\(records.count)")
            Figure.report("kill9.failed", "\(report.failures.count) (\(report.failureSummary))")
            expectHonestFailover(report)
        }

        @Test("SIGTERM drains a node: zero failed calls")
        func sigterm() async throws {
            try await NodeCluster.with(Self.sigtermScenario)
        }

        static func sigtermScenario(_ cluster: NodeCluster) async throws {
            let victim = cluster.node("node-1")
            let survivors = ["node-0", "node-2"]
            let (times, records) = try await withSteadyLoad(on: cluster.ledger) { load in
                try await warmUp(load, nodes: ["node-0", "node-1", "node-2"])
                let signalled = load.now()
                victim.send(SIGTERM)
                let exit = await victim.waitForExit(timeout: Self.patience)
                let exited = load.now()
                try #require(exit != nil, "node-1 exited after SIGTERM")
                #expect(exit?.signalled == false && exit?.status == 0, "node-1 drained and exited cleanly: \(exit!)")
                #expect(victim.output.value.lines.contains("stopped"), "node-1's service group returned")
                let before = load.state.value.successes(on: survivors)
                let served = await load.state.wait(timeout: Self.patience) { state in
                    state.settled(startedBy: exited) && state.successes(on: survivors) >= before + 500
                }
                try #require(served, "the survivors served 500 calls after node-1 exited")
                return (signalled: signalled, exited: exited)
            }
            await cluster.close()
            let report = LoadReport(records: records, executions: try cluster.executions())
            Figure.report("sigterm.exitAfter", times.exited - times.signalled)
            Figure.report("sigterm.fullThroughputAfter", report.fullThroughput(after: times.signalled))
            Figure.report("sigterm.longestCall", report.longestCall(endingAfter: times.signalled))
            Figure.report("sigterm.heldCalls", report.heldCallSummary(endingAfter: times.signalled))
            Figure.report("sigterm.calls", "\(records.count)")
            Figure.report("sigterm.failed", "\(report.failures.count) (\(report.failureSummary))")
            #expect(report.failures.isEmpty, "no call fails while a node drains: \(report.failureSamples)")
            #expect(report.nonIdempotentKeysRunTwice.isEmpty)
            #expect(report.succeededButNeverRan.isEmpty)
        }

        @Test("SIGSTOP: the frozen node is declared dead and its calls move; SIGCONT: it gets calls again")
        func sigstop() async throws {
            try await NodeCluster.with(Self.sigstopScenario)
        }

        static func sigstopScenario(_ cluster: NodeCluster) async throws {
            let victim = cluster.node("node-1")
            let survivors = ["node-0", "node-2"]
            let (times, records) = try await withSteadyLoad(on: cluster.ledger) { load in
                try await warmUp(load, nodes: ["node-0", "node-1", "node-2"])
                let before = load.state.value.successes(on: survivors)
                let stopped = load.now()
                victim.send(SIGSTOP)
                // A frozen node's socket still takes calls until it is
                // suspect, one heartbeat interval of silence after its last
                // answer; the calls sent by the end of its liveness timeout
                // must all be settled (moved or failed) while it is frozen.
                let cutoff = stopped + NodeCluster.heartbeat.deadAfter
                let moved = await load.state.wait(timeout: Self.patience) { state in
                    state.settled(startedBy: cutoff) && state.successes(on: survivors) >= before + 1000
                }
                try #require(moved, "the calls stuck on the frozen node were settled and the others served 1000 more")
                let frozenServed = load.state.value.successes["node-1", default: 0]
                let continued = load.now()
                victim.send(SIGCONT)
                let rejoined = await load.state.wait(timeout: Self.patience) { state in
                    state.successes["node-1", default: 0] >= frozenServed + 50
                }
                try #require(rejoined, "node-1 served 50 calls after SIGCONT")
                return (stopped: stopped, continued: continued)
            }
            await cluster.close()
            let report = LoadReport(records: records, executions: try cluster.executions())
            // Its calls are stuck until it is declared dead, so they settle when it is.
            Figure.report("sigstop.detectedAfter", report.settled(after: times.stopped))
            Figure.report("sigstop.heldCalls", report.heldCallSummary(endingAfter: times.stopped))
            Figure.report("sigstop.fullThroughputAfter", report.fullThroughput(after: times.stopped))
            Figure.report("sigstop.longestCall", report.longestCall(endingAfter: times.stopped))
            Figure.report("sigstop.rejoinedAfter", report.firstSuccess(on: victim.name, after: times.continued))
            Figure.report("sigstop.calls", "\(records.count)")
            Figure.report("sigstop.failed", "\(report.failures.count) (\(report.failureSummary))")
            expectHonestFailover(report)
            #expect(!report.failures.contains { $0.failureCode == .deadlineExceeded },
                    "the frozen node was declared dead before the calls' deadlines")
            let continued = times.continued
            let waitedForThaw = records.filter { record in
                record.node == victim.name && record.start < continued && record.end > continued
            }
            #expect(waitedForThaw.isEmpty,
                    "no call waited for the frozen node to thaw: \(waitedForThaw.prefix(5).map(\.key))")
        }

        @Test("a node killed and restarted on its endpoint gets calls again")
        func restart() async throws {
            try await NodeCluster.with(Self.restartScenario)
        }

        static func restartScenario(_ cluster: NodeCluster) async throws {
            let victim = cluster.node("node-2")
            let survivors = ["node-0", "node-1"]
            let (times, records) = try await withSteadyLoad(on: cluster.ledger) { load in
                try await warmUp(load, nodes: ["node-0", "node-1", "node-2"])
                let before = load.state.value.successes(on: survivors)
                let killed = load.now()
                victim.send(SIGKILL)
                try #require(await victim.waitForExit(timeout: Self.patience) != nil, "node-2 was killed")
                let cutoff = load.now() + NodeCluster.heartbeat.deadAfter
                let moved = await load.state.wait(timeout: Self.patience) { state in
                    state.settled(startedBy: cutoff) && state.successes(on: survivors) >= before + 300
                }
                try #require(moved, "the survivors took over")
                let restarting = load.now()
                let restarted = try await cluster.restart(victim, as: "node-2b")
                let ready = load.now()
                #expect(restarted.endpoint == victim.endpoint)
                let served = await load.state.wait(timeout: Self.patience) { state in
                    state.successes["node-2b", default: 0] >= 50
                }
                try #require(served, "the restarted node served 50 calls")
                return (killed: killed, restarting: restarting, ready: ready)
            }
            await cluster.close()
            let report = LoadReport(records: records, executions: try cluster.executions())
            Figure.report("restart.firstCallAfterReady", report.firstSuccess(on: "node-2b", after: times.ready))
            Figure.report("restart.settledAfterKill", report.settled(after: times.killed))
            Figure.report("restart.calls", "\(records.count)")
            Figure.report("restart.failed", "\(report.failures.count) (\(report.failureSummary))")
            expectHonestFailover(report)
            // Requests queued for the dead node must not reach its successor
            // long after their callers were answered.
            let ranOnRestarted = Set(try ExecutionLog.entries(atPath: cluster.node("node-2b").logPath).map(\.key))
            let stale = records.filter { ranOnRestarted.contains($0.key) && $0.start < times.restarting }
            #expect(stale.isEmpty, "the restarted node ran no call sent before it started: \(stale.prefix(5).map(\.key))")
        }
    }
}

/// Runs a steady load on `ledger` while `body` runs, then stops it and
/// returns what `body` returned and every call the load made (also when
/// `body` throws, the load is stopped and awaited first).
func withSteadyLoad<R>(on ledger: Ledger, _ body: (SteadyLoad) async throws -> R) async throws -> (R, [CallRecord]) {
    let load = SteadyLoad()
    async let running: Void = load.run(ledger)
    let result: R
    do {
        result = try await body(load)
    } catch {
        load.stop()
        await running
        throw error
    }
    load.stop()
    await running
    return (result, load.state.value.records)
}

/// Waits until every node in `nodes` has served 200 calls (and so the
/// throughput before the event is known).
func warmUp(_ load: SteadyLoad, nodes: [String]) async throws {
    let warm = await load.state.wait(timeout: ProcessScenarios.NodeFailureTests.patience) { state in
        nodes.allSatisfy { state.successes[$0, default: 0] >= 200 }
    }
    try #require(warm, "every node served 200 calls: \(load.state.value.successes), failures: \(load.state.value.failures)")
}

/// What failover promises when a node fails: idempotent calls all succeed,
/// the others succeed or fail with "outcome unknown", no call that is not
/// idempotent runs twice, and every call that succeeded ran.
func expectHonestFailover(_ report: LoadReport, sourceLocation: SourceLocation = #_sourceLocation) {
    let idempotentFailures = report.failures.filter { $0.kind.isIdempotent }
    #expect(idempotentFailures.isEmpty, "every idempotent call succeeds: \(LoadReport(records: idempotentFailures, executions: []).failureSamples)",
            sourceLocation: sourceLocation)
    let otherFailures = report.failures.filter { !$0.kind.isIdempotent && $0.failureCode != .outcomeUnknown }
    #expect(otherFailures.isEmpty, "a call that is not idempotent fails only with 'outcome unknown': \(LoadReport(records: otherFailures, executions: []).failureSamples)",
            sourceLocation: sourceLocation)
    #expect(report.nonIdempotentKeysRunTwice.isEmpty, "no call that is not idempotent ran twice",
            sourceLocation: sourceLocation)
    #expect(report.succeededButNeverRan.isEmpty, "every call that succeeded ran on a node", sourceLocation: sourceLocation)
}
