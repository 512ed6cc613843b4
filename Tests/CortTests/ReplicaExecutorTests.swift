import CortTesting
import Dispatch
import Distributed
import Foundation
import Synchronization
import Testing
@testable import Cort

/// Reports where its calls run, and blocks its thread on request.
distributed actor Placement {
    typealias ActorSystem = CortSystem

    /// Whether this call runs on the node's reactor thread.
    distributed func runsOnReactor() -> Bool {
        actorSystem.reactor.isOnReactorThread
    }

    /// Computes without ever suspending until the test opens the gate named
    /// `key` (at most 20 s); returns how many rounds it spun.
    distributed func spin(_ key: String) -> Int {
        Observations.shared.record(key, "spinning")
        let gate = Gates.shared.gate(key)
        let deadline = ContinuousClock.now + .seconds(20)
        var rounds = 0
        while gate.wait(timeout: .now()) == .timedOut && ContinuousClock.now < deadline {
            rounds += 1
        }
        Observations.shared.record(key, "finished")
        return rounds
    }

    /// Blocks its thread (no suspension) until the test opens the gate named `key`, at most 10 s.
    distributed func block(_ key: String) -> Bool {
        Observations.shared.record(key, "blocking")
        return Gates.shared.gate(key).wait(timeout: .now() + 10) == .success
    }
}

/// Semaphores by test key, for methods that block their thread on purpose.
final class Gates: Sendable {
    static let shared = Gates()
    private let gates = Mutex<[String: DispatchSemaphore]>([:])

    func gate(_ key: String) -> DispatchSemaphore {
        gates.withLock { gates in
            if let gate = gates[key] { return gate }
            let gate = DispatchSemaphore(value: 0)
            gates[key] = gate
            return gate
        }
    }
}

@Suite struct ReplicaExecutorTests {
    static let executors: [ReplicaExecutor] = [.reactor, .globalPool]

    @Test(arguments: executors)
    func replicasRunWhereTheExecutorSays(executor: ReplicaExecutor) async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("placement", replicas: 2, executor: executor) { Placement(actorSystem: $0) }
        }) { _, caller in
            let placement = try Placement.resolve(id: .service("placement"), using: caller)
            for _ in 0..<20 {
                #expect(try await placement.runsOnReactor() == (executor == .reactor))
            }
        }
    }

    @Test(arguments: executors)
    func cancellingTheCallerCancelsTheMethod(executor: ReplicaExecutor) async throws {
        let key = "executor-cancel-\(executor)-\(UUID())"
        try await withNodes(1, host: { node, _ in
            try await node.host("worker", executor: executor) { Worker(actorSystem: $0) }
        }) { _, caller in
            let worker = try Worker.resolve(id: .service("worker"), using: caller)
            let call = Task { try await worker.wait(key, seconds: 30) }
            #expect(await Observations.shared.waitFor(key) { $0 == "started" })
            call.cancel()
            do {
                _ = try await call.value
                Issue.record("expected cancelled")
            } catch let error as RemoteCallError {
                #expect(error.code == .cancelled)
            }
            #expect(await Observations.shared.waitFor(key) { $0 == "cancelled" })
        }
    }

    @Test(arguments: executors)
    func theDeadlineCancelsTheMethod(executor: ReplicaExecutor) async throws {
        let key = "executor-deadline-\(executor)-\(UUID())"
        // Deadlines on virtual time: the call's 3 s pass when the test says,
        // once the method runs, however long a loaded machine took to start it.
        let clock = TestClock()
        try await withNodes(1, clock: clock, drainGrace: .zero, host: { node, _ in
            try await node.host("worker", executor: executor) { Worker(actorSystem: $0) }
        }) { _, caller in
            let worker = try Worker.resolve(id: .service("worker"), using: caller)
            let call = Task {
                try await CallOptions.$current.withValue(CallOptions(timeout: .seconds(3))) {
                    try await worker.wait(key, seconds: 60)  // real time: it cannot finish first
                }
            }
            #expect(await Observations.shared.waitFor(key, timeout: .seconds(30)) { $0 == "started" })
            clock.advance(by: .seconds(3))
            do {
                _ = try await call.value
                Issue.record("expected deadlineExceeded")
            } catch let error as RemoteCallError {
                #expect(error.code == .deadlineExceeded, "\(error)")
            }
            // The node stopped the work that nobody waited for any more.
            #expect(await Observations.shared.waitFor(key, timeout: .seconds(30)) { $0 == "cancelled" },
                    "events: \(Observations.shared.events(key))")
            #expect(!Observations.shared.events(key).contains("finished"))
        }
    }

    /// A method that suspends holds nothing, whichever executor runs it.
    @Test(arguments: executors)
    func aSuspendedMethodDoesNotHoldOtherServices(executor: ReplicaExecutor) async throws {
        let key = "executor-suspended-\(executor)-\(UUID())"
        try await withNodes(1, host: { node, _ in
            try await node.host("worker", executor: executor) { Worker(actorSystem: $0) }
            try await node.host("greeter", executor: executor) { Greeter(actorSystem: $0) }
        }) { _, caller in
            let worker = try Worker.resolve(id: .service("worker"), using: caller)
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            let call = Task { try await worker.wait(key, seconds: 30) }
            #expect(await Observations.shared.waitFor(key) { $0 == "started" })
            #expect(try await greeter.hello(name: "Ada") == "Hello, Ada!")
            call.cancel()
            _ = try? await call.value
        }
    }

    /// A method that blocks its thread holds only its own replica on the
    /// global pool (on the reactor it would hold the whole node, as documented).
    @Test func aBlockingMethodOnTheGlobalPoolDoesNotHoldTheNode() async throws {
        let key = "executor-blocking-\(UUID())"
        try await withNodes(1, host: { node, _ in
            try await node.host("placement", executor: .globalPool) { Placement(actorSystem: $0) }
            // On the reactor, the greeter needs none of the cooperative pool's
            // few threads, one of which the blocking method holds.
            try await node.host("greeter", executor: .reactor) { Greeter(actorSystem: $0) }
        }) { _, caller in
            let placement = try Placement.resolve(id: .service("placement"), using: caller)
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            let blocked = Task { try await placement.block(key) }
            #expect(await Observations.shared.waitFor(key) { $0 == "blocking" })
            // Answered while the other method still blocks its thread. The
            // gate opens whatever the answer: a pool thread left blocked would
            // stall every test beside this one.
            let gate = Gates.shared.gate(key)
            let answer: String
            do {
                answer = try await greeter.hello(name: "Ada")
            } catch {
                gate.signal()
                throw error
            }
            gate.signal()
            #expect(answer == "Hello, Ada!")
            #expect(try await blocked.value)
        }
    }

    /// With the default executor (the reactor), a method that computes for
    /// long without suspending does not starve the node: the reactor's loop
    /// moves to another thread, and requests, pings and other calls (to
    /// another service and to the method's own service) are read and
    /// answered while the method still runs.
    @Test func aMethodThatComputesOnTheReactorDoesNotStarveTheNode() async throws {
        let key = "executor-spinning-\(UUID())"
        try await withNodes(1, host: { node, _ in
            try await node.host("placement", replicas: 2) { Placement(actorSystem: $0) }
            try await node.host("greeter") { Greeter(actorSystem: $0) }
        }) { nodes, caller in
            let node = nodes[0]
            let placement = try Placement.resolve(id: .service("placement"), using: caller)
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            let handOffsBefore = node.reactor.handOffs.load(ordering: .relaxed)
            let spinning = Task { try await placement.spin(key) }
            #expect(await Observations.shared.waitFor(key) { $0 == "spinning" })
            // The gate opens whatever happens below: a thread left spinning
            // would slow every test beside this one.
            let gate = Gates.shared.gate(key)
            let raw = try RawCaller(routingID: "pinger-\(UUID())")
            defer { raw.close() }
            let pong: Envelope?
            let answers: (greeting: String, onReactor: Bool)
            do {
                try raw.connect(try #require(node.endpoint))
                try await raw.send(.ping(sequence: 7))
                pong = try await raw.receive(within: .seconds(30))
                answers = (try await greeter.hello(name: "Ada"), try await placement.runsOnReactor())
            } catch {
                gate.signal()
                throw error
            }
            let stillSpinning = !Observations.shared.events(key).contains("finished")
            gate.signal()
            guard case .pong(7, _, _)? = pong else {
                Issue.record("expected a pong while the method computed, got \(String(describing: pong))")
                return
            }
            #expect(answers.greeting == "Hello, Ada!")
            // The other replica ran on the reactor: on the loop's new thread.
            #expect(answers.onReactor)
            #expect(stillSpinning, "everything above was answered while the method computed")
            #expect(try await spinning.value > 0)
            #expect(node.reactor.handOffs.load(ordering: .relaxed) > handOffsBefore)
        }
    }
}
