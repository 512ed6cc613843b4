import Cort
import Foundation
import ReliabilityServices
import Testing

/// Three `CortTestNode` processes, a caller in this process under steady
/// load, and one node that dies, drains, freezes or restarts (issue 4,
/// "Tests with real processes"). Each test prints the figures the note
/// quotes as `FIGURE name=value` lines.
///
/// Serialized: each scenario runs four processes on a 2-core machine, and
/// two at once would starve each other's heartbeats.
@Suite("Node failures with real processes", .serialized)
struct NodeFailureTests {
    /// How long a scenario waits for an event before it gives up (not a
    /// timing assertion: the events take well under a second).
    static let patience = Duration.seconds(15)

    @Test("kill -9: every idempotent call succeeds, every other succeeds or fails 'outcome unknown', none runs twice")
    func killNine() async throws {
        try await NodeCluster.with { cluster in
            let victim = cluster.node("node-1")
            let survivors = ["node-0", "node-2"]
            var killedAt = Duration.zero
            let records = try await withSteadyLoad(on: cluster.ledger) { load in
                try await warmUp(load, nodes: ["node-0", "node-1", "node-2"])
                let before = load.state.value.successes(on: survivors)
                killedAt = load.now()
                victim.send(SIGKILL)
                let exit = await victim.waitForExit(timeout: Self.patience)
                try #require(exit?.signalled == true, "node-1 was killed")
                let moved = await load.state.wait(timeout: Self.patience) { [killedAt] state in
                    state.settled(startedBy: killedAt) && state.successes(on: survivors) >= before + 1000
                }
                try #require(moved, "the calls in flight at the kill were settled and the survivors served 1000 more")
            }
            await cluster.close()
            let report = LoadReport(records: records, executions: try cluster.executions())
            Figure.report("kill9.firstSuccessAfter", report.firstSuccess(after: killedAt, excluding: victim.name))
            Figure.report("kill9.inFlightSettledAfter", report.inFlightSettled(at: killedAt))
            Figure.report("kill9.fullThroughputAfter", report.fullThroughput(after: killedAt))
            Figure.report("kill9.calls", "\(records.count)")
            Figure.report("kill9.failed", "\(report.failures.count) (\(report.failureSummary))")
            expectHonestFailover(report)
        }
    }

    @Test("SIGTERM drains a node: zero failed calls")
    func sigterm() async throws {
        try await NodeCluster.with { cluster in
            let victim = cluster.node("node-1")
            let survivors = ["node-0", "node-2"]
            var signalledAt = Duration.zero
            var exitedAt = Duration.zero
            let records = try await withSteadyLoad(on: cluster.ledger) { load in
                try await warmUp(load, nodes: ["node-0", "node-1", "node-2"])
                signalledAt = load.now()
                victim.send(SIGTERM)
                let exit = await victim.waitForExit(timeout: Self.patience)
                exitedAt = load.now()
                try #require(exit != nil, "node-1 exited after SIGTERM")
                #expect(exit?.signalled == false && exit?.status == 0, "node-1 drained and exited cleanly: \(exit!)")
                #expect(victim.output.value.lines.contains("stopped"), "node-1's service group returned")
                let before = load.state.value.successes(on: survivors)
                let served = await load.state.wait(timeout: Self.patience) { [exitedAt] state in
                    state.settled(startedBy: exitedAt) && state.successes(on: survivors) >= before + 500
                }
                try #require(served, "the survivors served 500 calls after node-1 exited")
            }
            await cluster.close()
            let report = LoadReport(records: records, executions: try cluster.executions())
            Figure.report("sigterm.exitAfter", exitedAt - signalledAt)
            Figure.report("sigterm.fullThroughputAfter", report.fullThroughput(after: signalledAt))
            Figure.report("sigterm.calls", "\(records.count)")
            Figure.report("sigterm.failed", "\(report.failures.count) (\(report.failureSummary))")
            #expect(report.failures.isEmpty, "no call fails while a node drains: \(report.failureSamples)")
            #expect(report.nonIdempotentKeysRunTwice.isEmpty)
            #expect(report.succeededButNeverRan.isEmpty)
        }
    }

    @Test("SIGSTOP: the frozen node is declared dead and its calls move; SIGCONT: it gets calls again")
    func sigstop() async throws {
        try await NodeCluster.with { cluster in
            let victim = cluster.node("node-1")
            let survivors = ["node-0", "node-2"]
            var stoppedAt = Duration.zero
            var continuedAt = Duration.zero
            let records = try await withSteadyLoad(on: cluster.ledger) { load in
                try await warmUp(load, nodes: ["node-0", "node-1", "node-2"])
                let before = load.state.value.successes(on: survivors)
                stoppedAt = load.now()
                victim.send(SIGSTOP)
                let moved = await load.state.wait(timeout: Self.patience) { [stoppedAt] state in
                    state.settled(startedBy: stoppedAt) && state.successes(on: survivors) >= before + 1000
                }
                try #require(moved, "the calls stuck on the frozen node were settled and the others served 1000 more")
                let frozenServed = load.state.value.successes["node-1", default: 0]
                continuedAt = load.now()
                victim.send(SIGCONT)
                let rejoined = await load.state.wait(timeout: Self.patience) { state in
                    state.successes["node-1", default: 0] >= frozenServed + 50
                }
                try #require(rejoined, "node-1 served 50 calls after SIGCONT")
            }
            await cluster.close()
            let report = LoadReport(records: records, executions: try cluster.executions())
            // Its calls are stuck until it is declared dead, so they settle when it is.
            Figure.report("sigstop.detectedAfter", report.inFlightSettled(at: stoppedAt))
            Figure.report("sigstop.fullThroughputAfter", report.fullThroughput(after: stoppedAt))
            Figure.report("sigstop.rejoinedAfter", report.firstSuccess(on: victim.name, after: continuedAt))
            Figure.report("sigstop.calls", "\(records.count)")
            Figure.report("sigstop.failed", "\(report.failures.count) (\(report.failureSummary))")
            expectHonestFailover(report)
            #expect(!report.failures.contains { $0.failureCode == .deadlineExceeded },
                    "the frozen node was declared dead before the calls' deadlines")
        }
    }

    @Test("a node killed and restarted on its endpoint gets calls again")
    func restart() async throws {
        try await NodeCluster.with { cluster in
            let victim = cluster.node("node-2")
            let survivors = ["node-0", "node-1"]
            var killedAt = Duration.zero
            var readyAt = Duration.zero
            var restartedName = ""
            let records = try await withSteadyLoad(on: cluster.ledger) { load in
                try await warmUp(load, nodes: ["node-0", "node-1", "node-2"])
                let before = load.state.value.successes(on: survivors)
                killedAt = load.now()
                victim.send(SIGKILL)
                try #require(await victim.waitForExit(timeout: Self.patience) != nil, "node-2 was killed")
                let moved = await load.state.wait(timeout: Self.patience) { [killedAt] state in
                    state.settled(startedBy: killedAt) && state.successes(on: survivors) >= before + 300
                }
                try #require(moved, "the survivors took over")
                let restarted = try await cluster.restart(victim, as: "node-2b")
                restartedName = restarted.name
                readyAt = load.now()
                #expect(restarted.endpoint == victim.endpoint)
                let served = await load.state.wait(timeout: Self.patience) { state in
                    state.successes["node-2b", default: 0] >= 50
                }
                try #require(served, "the restarted node served 50 calls")
            }
            await cluster.close()
            let report = LoadReport(records: records, executions: try cluster.executions())
            Figure.report("restart.firstCallAfterReady", report.firstSuccess(on: restartedName, after: readyAt))
            Figure.report("restart.calls", "\(records.count)")
            Figure.report("restart.failed", "\(report.failures.count) (\(report.failureSummary))")
            expectHonestFailover(report)
        }
    }
}

/// Runs a steady load on `ledger` while `body` runs, then stops it and
/// returns every call it made (also when `body` throws, the load is stopped
/// and awaited first).
func withSteadyLoad(on ledger: Ledger, _ body: (SteadyLoad) async throws -> Void) async throws -> [CallRecord] {
    let load = SteadyLoad()
    async let running: Void = load.run(ledger)
    do {
        try await body(load)
    } catch {
        load.stop()
        await running
        throw error
    }
    load.stop()
    await running
    return load.state.value.records
}

/// Waits until every node in `nodes` has served 50 calls.
func warmUp(_ load: SteadyLoad, nodes: [String]) async throws {
    let warm = await load.state.wait(timeout: NodeFailureTests.patience) { state in
        nodes.allSatisfy { state.successes[$0, default: 0] >= 50 }
    }
    try #require(warm, "every node served 50 calls: \(load.state.value.successes), failures: \(load.state.value.failures)")
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
