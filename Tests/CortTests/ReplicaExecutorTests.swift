import CortTesting
import Dispatch
import Distributed
import Foundation
import Synchronization
import Testing
@testable import Cort

/// Reports where its calls run, and blocks its thread on request.
@CortService
distributed actor Placement {
    typealias ActorSystem = CortSystem

    /// Whether this call runs on the node's reactor thread.
    distributed func runsOnReactor() -> Bool {
        actorSystem.reactor.isOnReactorThread
    }

    /// Computes without ever suspending until the test opens the gate named
    /// `key` (at most 10 s); returns for how long, in milliseconds.
    distributed func spin(_ key: String) -> Int {
        Observations.shared.record(key, "spinning")
        let gate = Gates.shared.gate(key)
        let start = ContinuousClock.now
        while gate.wait(timeout: .now()) == .timedOut && ContinuousClock.now - start < .seconds(10) {}
        Observations.shared.record(key, "finished")
        let spun = ContinuousClock.now - start
        return Int(spun.components.seconds * 1000 + spun.components.attoseconds / 1_000_000_000_000_000)
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

    /// Many calls at once (120, past what 4 replicas run and queue): the
    /// node answers the calls its workers finish in batches (from the
    /// reactor's thread, or from the global pool's), and every caller gets
    /// its own call's answer, once.
    @Test(arguments: executors)
    func manyCallsAtOnceEachGetTheirOwnAnswer(executor: ReplicaExecutor) async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("greeter", replicas: 4, executor: executor) { Greeter(actorSystem: $0) }
        }) { nodes, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<120 {
                    group.addTask { (index, try await greeter.hello(name: "caller \(index)")) }
                }
                var answers: [Int: String] = [:]
                for try await (index, answer) in group {
                    #expect(answers.updateValue(answer, forKey: index) == nil)
                }
                return answers
            }
            #expect(answers.count == 120)
            for (index, answer) in answers {
                #expect(answer == "Hello, caller \(index)!")
            }
            let counters = try await nodes[0].nodeCounters()
            #expect(counters.replies >= 120)
            try await nodes[0].waitUntilNodeIdle()
        }
    }

    @Test(arguments: executors)
    func cancellingTheCallerCancelsTheMethod(executor: ReplicaExecutor) async throws {
        let key = "executor-cancel-\(executor)-\(UUID())"
        try await withNodes(1, host: { node, _ in
            try await node.host("worker", executor: executor) { Worker(actorSystem: $0) }
        }) { _, caller in
            let worker = try Worker.resolve(id: .service("worker"), using: caller)
            let error = await cancelWhileRunning(worker, key: key, seconds: 30)
            #expect(error?.code == .cancelled)
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
            // Both services' node lists and connections first: while the
            // method blocks, the greeting must need nothing that runs on the
            // cooperative pool (a new service's node list is fed by a task there).
            #expect(try await greeter.hello(name: "warm-up") == "Hello, warm-up!")
            #expect(try await placement.runsOnReactor() == false)
            let blocked = Task { try await placement.block(key) }
            let gate = Gates.shared.gate(key)
            // From the moment the method blocks to the gate opening, all of it
            // runs on the caller's reactor: waiting for the method to block,
            // the greeting, and the gate. The blocked method holds one of the
            // cooperative pool's two threads (on a 2-core machine), and every
            // suite beside this one wants the other: this test's own steps
            // once waited there behind them until the gate's 10 s ran out, and
            // the whole process stalled with it. The gate opens whatever the
            // answer: a pool thread left blocked would stall every test.
            let (sawBlocking, answer) = try await Task(executorPreference: caller.taskExecutor) {
                defer { gate.signal() }
                guard await Observations.shared.waitFor(key, { $0 == "blocking" }) else { return (false, "") }
                // Answered while the other method still blocks its thread.
                return (true, try await greeter.hello(name: "Ada"))
            }.value
            #expect(sawBlocking)
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
            let endpoint = try #require(node.endpoint)
            let placement = try Placement.resolve(id: .service("placement"), using: caller)
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            // Both services' node lists and connections first: while the
            // method spins (and takes a core), the calls below must need
            // nothing that runs on the cooperative pool.
            #expect(try await greeter.hello(name: "warm-up") == "Hello, warm-up!")
            #expect(try await placement.runsOnReactor())
            let handOffsBefore = node.reactor.handOffs.load(ordering: .relaxed)
            // All of it on the caller's reactor, none on the cooperative pool:
            // on a 2-core machine that pool is busy with every suite beside
            // this one, and the method spins until this is done.
            let seen = try await Task(executorPreference: caller.taskExecutor) { () async throws -> SpinObservations in
                let gate = Gates.shared.gate(key)
                // The gate opens whatever happens: a thread left spinning
                // would slow every test beside this one.
                defer { gate.signal() }
                let spinning = Task(executorPreference: caller.taskExecutor) { try await placement.spin(key) }
                guard await Observations.shared.waitFor(key, { $0 == "spinning" }) else {
                    throw SpinTestFailure("the method never started")
                }
                let raw = try RawCaller(routingID: "pinger-\(UUID())")
                defer { raw.close() }
                try raw.connect(endpoint)
                try await raw.send(.ping(sequence: 7))
                let pong = try await raw.receive(within: .seconds(30))
                let greeting = try await greeter.hello(name: "Ada")
                let onReactor = try await placement.runsOnReactor()
                let stillSpinning = !Observations.shared.events(key).contains("finished")
                gate.signal()
                return SpinObservations(pong: pong, greeting: greeting, onReactor: onReactor,
                                        stillSpinning: stillSpinning, spunMilliseconds: try await spinning.value)
            }.value
            guard case .pong(7, _, _)? = seen.pong else {
                Issue.record("expected a pong while the method computed, got \(String(describing: seen.pong))")
                return
            }
            #expect(seen.greeting == "Hello, Ada!")
            // The other replica ran on the reactor: on the loop's new thread.
            #expect(seen.onReactor)
            #expect(seen.stillSpinning, "everything above was answered while the method computed")
            // It computed only while the test looked (a thread spinning longer
            // would take a core from every test beside this one).
            print("FIGURE spinningMethod.milliseconds=\(seen.spunMilliseconds)")
            #expect(seen.spunMilliseconds < 10_000)
            #expect(node.reactor.handOffs.load(ordering: .relaxed) > handOffsBefore)
        }
    }
}

/// What the test of a computing method saw while the method ran.
private struct SpinObservations: Sendable {
    let pong: Envelope?
    let greeting: String
    let onReactor: Bool
    let stillSpinning: Bool
    let spunMilliseconds: Int
}

/// A test's own failure, thrown out of a task.
private struct SpinTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
