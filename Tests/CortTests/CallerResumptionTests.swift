import CortTesting
import CortZeroMQ
import Dispatch
import Distributed
import Foundation
import Testing
@testable import Cort

/// Calls another service from a hosted method and says where it went on.
@CortService
distributed actor Relay {
    typealias ActorSystem = CortSystem

    /// Calls the greeter; whether this method's code after the call ran on
    /// its system's reactor thread.
    distributed func relayedOnReactor(_ name: String) async throws -> Bool {
        let greeter = try Greeter.resolve(id: .service("greeter"), using: actorSystem)
        _ = try await greeter.hello(name: name)
        return actorSystem.reactor.isOnReactorThread
    }
}

/// Where a caller on the global pool goes on once its answer is read
/// (`Configuration.resumesCallersOnReactor`).
@Suite struct CallerResumptionTests {
    /// A call from a task with no executor of its own, and whether the code
    /// after it ran on the caller's reactor thread.
    private static func callAndLook(_ greeter: Greeter, _ caller: CortSystem, _ name: String) async throws -> Bool {
        try await Task.detached {
            let greeting = try await greeter.hello(name: name)
            let onReactor = caller.reactor.isOnReactorThread
            #expect(greeting == "Hello, \(name)!")
            return onReactor
        }.value
    }

    /// By default the caller goes on on the reactor, which read its answer:
    /// no pool thread is woken for it. (A caller whose own thread reads its
    /// answer after sending, when the answer came that fast, goes on there:
    /// so most calls, not all.)
    @Test func aCallerOnTheGlobalPoolGoesOnOnTheReactor() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("greeter") { Greeter(actorSystem: $0) }
        }) { _, caller in
            #expect(ZeroMQReactor.globalJobsHookInstalled)
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            var onReactor = 0
            for index in 0..<20 where try await Self.callAndLook(greeter, caller, "caller \(index)") {
                onReactor += 1
            }
            #expect(onReactor >= 10, "\(onReactor) of 20 calls went on on the reactor")
        }
    }

    /// With `resumesCallersOnReactor` off, no caller goes on on the reactor.
    @Test func turnedOffTheCallersStayOnThePool() async throws {
        try await withNodeAndCaller(
            node: { .init(name: "node", discovery: $0, endpoint: "tcp://127.0.0.1:0") },
            caller: { discovery in
                var configuration = CortSystem.Configuration(name: "caller", discovery: discovery, defaultTimeout: .seconds(30))
                configuration.resumesCallersOnReactor = false
                return configuration
            },
            host: { try await $0.host("greeter") { Greeter(actorSystem: $0) } }
        ) { _, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            for index in 0..<20 {
                #expect(try await Self.callAndLook(greeter, caller, "caller \(index)") == false)
            }
        }
    }

    /// A caller that computes for long after its answer, on the reactor,
    /// does not starve the caller's system: the reactor's loop moves to
    /// another thread, and other calls are sent and answered while it
    /// still computes.
    @Test func aCallerThatComputesAfterItsCallDoesNotStarveTheReactor() async throws {
        let key = "caller-spinning-\(UUID())"
        try await withNodes(1, host: { node, _ in
            try await node.host("greeter") { Greeter(actorSystem: $0) }
        }) { _, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            #expect(try await greeter.hello(name: "warm-up") == "Hello, warm-up!")
            let handOffsBefore = caller.reactor.handOffs.load(ordering: .relaxed)
            let gate = Gates.shared.gate(key)
            // The gate opens whatever happens: a thread left spinning would
            // slow every test beside this one.
            defer { gate.signal() }
            let spinner = Task.detached { () async throws -> Bool in
                // Until a call's answer leaves this task on the reactor (at
                // most 50 calls), then computes there until the gate opens.
                for index in 0..<50 {
                    _ = try await greeter.hello(name: "spinner \(index)")
                    guard caller.reactor.isOnReactorThread else { continue }
                    Observations.shared.record(key, "spinning")
                    let start = ContinuousClock.now
                    while gate.wait(timeout: .now()) == .timedOut && ContinuousClock.now - start < .seconds(10) {}
                    Observations.shared.record(key, "finished")
                    return true
                }
                return false
            }
            guard await Observations.shared.waitFor(key, { $0 == "spinning" }) else {
                gate.signal()
                Issue.record("no call of 50 went on on the reactor: \(try await spinner.value)")
                return
            }
            // Calls from other tasks while it computes: sent, answered and resumed.
            for index in 0..<5 {
                #expect(try await greeter.hello(name: "other \(index)") == "Hello, other \(index)!")
            }
            let stillSpinning = !Observations.shared.events(key).contains("finished")
            gate.signal()
            #expect(try await spinner.value)
            #expect(stillSpinning, "the other calls were answered while the caller computed")
            #expect(caller.reactor.handOffs.load(ordering: .relaxed) > handOffsBefore)
        }
    }

    /// A hosted method whose replica runs on the global pool, and that calls
    /// another service, goes on on the pool after its call (the pool is what
    /// `.globalPool` promises it); one on the reactor stays there.
    @Test(arguments: [ReplicaExecutor.reactor, .globalPool])
    func aHostedMethodThatCallsOutGoesOnWhereItsReplicaRuns(executor: ReplicaExecutor) async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("greeter") { Greeter(actorSystem: $0) }
            try await node.host("relay", replicas: 2, executor: executor) { Relay(actorSystem: $0) }
        }) { _, caller in
            let relay = try Relay.resolve(id: .service("relay"), using: caller)
            for index in 0..<10 {
                #expect(try await relay.relayedOnReactor("relay \(index)") == (executor == .reactor))
            }
        }
    }
}
