@testable import CortTesting
import Testing

/// The state alone: no HTTP, no clock; time is the `now` each event carries.
@Suite("ConsulAgentState")
struct ConsulAgentStateTests {
    func definition(_ id: String, ttl: Duration = .seconds(10), status: String = "passing",
                    deregisterAfter: Duration = .zero) -> ServiceDefinition {
        var check = CheckDefinition()
        check.ttl = ttl
        check.status = status
        check.deregisterCriticalServiceAfter = deregisterAfter
        return ServiceDefinition(id: id, name: "svc", checks: [check])
    }

    @Test func aRegistrationBumpsTheIndexOnceAndAnIdenticalOneDoesNot() {
        var state = ConsulAgentState()
        let start = state.index
        state.register(definition("a"), replaceExistingChecks: false, now: .zero)
        #expect(state.index == start + 1)
        #expect(state.index(of: .health(service: "svc")) == start + 1)
        state.register(definition("a"), replaceExistingChecks: false, now: .seconds(1))
        #expect(state.index == start + 1)
    }

    @Test func aPassWithTheSameStatusAndOutputChangesNoIndexButRestartsTheTTL() {
        var state = ConsulAgentState()
        state.register(definition("a"), replaceExistingChecks: false, now: .zero)
        let index = state.index
        let pass = state.updateTTL(checkID: "service:a", status: "passing", output: "", now: .seconds(8))
        #expect((try? pass.get()) != nil)
        #expect(state.index == index)
        #expect(state.nextDeadline == .seconds(18))
        state.advance(to: .seconds(17))
        #expect(state.checks["service:a"]?.status == "passing")
    }

    @Test func parkedQueriesWakeOnlyForTheirOwnService() {
        var state = ConsulAgentState()
        state.register(definition("a"), replaceExistingChecks: false, now: .zero)
        let index = state.index(of: .health(service: "svc"))
        let first = state.block(waiter: 1, on: .health(service: "svc"), above: index, now: .zero)
        let second = state.block(waiter: 2, on: .health(service: "other"), above: state.index, now: .zero)
        let third = state.block(waiter: 3, on: .health(service: "svc"), above: index - 1, now: .zero)
        #expect(first && second && !third)
        _ = state.updateTTL(checkID: "service:a", status: "warning", output: "", now: .seconds(1))
        let wakes = state.takeWakes()
        #expect(wakes == [1])
        #expect(state.blockedCount == 1)
    }

    @Test func expiryAndReaperRunInTimeOrderWhenTimeJumps() {
        var state = ConsulAgentState()
        state.register(definition("a", deregisterAfter: .seconds(60)), replaceExistingChecks: false, now: .zero)
        state.advance(to: .seconds(600))
        #expect(state.services.isEmpty)
        #expect(state.checks.isEmpty)
        #expect(state.nextDeadline == nil)
    }

    @Test func rewindAndRestartWakeEveryParkedQuery() {
        var state = ConsulAgentState()
        state.register(definition("a"), replaceExistingChecks: false, now: .zero)
        _ = state.block(waiter: 7, on: .catalogServices, above: state.index, now: .zero)
        state.rewindIndex(to: 0)
        let afterRewind = state.takeWakes()
        #expect(afterRewind == [7])
        #expect(state.index == 1)
        #expect(state.services.count == 1)
        _ = state.block(waiter: 8, on: .catalogServices, above: 100, now: .zero)
        state.restart()
        let afterRestart = state.takeWakes()
        #expect(afterRestart == [8])
        #expect(state.services.isEmpty)
        #expect(state.blockedCount == 0)
    }

    @Test func longOutputIsCutAsTheAgentCutsIt() {
        var state = ConsulAgentState()
        state.register(definition("a"), replaceExistingChecks: false, now: .zero)
        _ = state.updateTTL(checkID: "service:a", status: "passing", output: String(repeating: "x", count: 5000), now: .zero)
        let output = state.checks["service:a"]?.output ?? ""
        #expect(output.hasSuffix(" ... (captured 4096 of 5000 bytes)"))
        #expect(output.count == 4096 + " ... (captured 4096 of 5000 bytes)".count)
    }
}
