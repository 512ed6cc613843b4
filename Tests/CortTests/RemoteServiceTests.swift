import CortZeroMQ
import Foundation
import Synchronization
import Testing
@testable import Cort

@Suite struct RemoteServiceTests {
    /// A caller on the global pool sends on its own thread: its reactor,
    /// which only reads the answers, is not handed a job per call. When the
    /// remote service ran on the reactor, every call hopped onto it to send
    /// (one job enqueued from another thread, and a wake-up, per call).
    @Test func aCallerOnTheGlobalPoolSendsWithoutHoppingToItsReactor() async throws {
        try await withNodeAndCaller(
            node: { .init(name: "slot-node", discovery: $0, endpoint: "tcp://127.0.0.1:0", drainGrace: .zero) },
            caller: { .init(name: "slot-caller", discovery: $0, drainGrace: .zero) },
            host: { node in try await node.host("greeter", replicas: 2) { Greeter(actorSystem: $0) } }
        ) { _, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            // The first call connects and waits for the node's first pong.
            #expect(try await greeter.hello(name: "warm") == "Hello, warm!")
            let calls = 300
            let before = caller.reactor.foreignEnqueues.load(ordering: .relaxed)
            for index in 0..<calls {
                #expect(try await greeter.hello(name: "\(index)") == "Hello, \(index)!")
            }
            let enqueued = caller.reactor.foreignEnqueues.load(ordering: .relaxed) - before
            print("FIGURE remoteService.reactorJobsFromOtherThreadsPerCall=\(Double(enqueued) / Double(calls))")
            // Heartbeat timers and reads after a send that found a whole
            // turn waiting may still hop (0.11 a call measured in a debug
            // build, with other tests beside it); sending through the reactor
            // was at least one a call.
            #expect(enqueued < calls / 2, "\(enqueued) jobs enqueued from other threads for \(calls) calls")
        }
    }

    /// A node hosting the greeter on 4 replicas, and the greeter as a caller
    /// whose calls have `timeout` (systems named after `name`).
    static func withGreeter(_ name: String, timeout: Duration,
                            _ body: (Greeter) async throws -> Void) async throws {
        try await withNodeAndCaller(
            node: { .init(name: "\(name)-node", discovery: $0, endpoint: "tcp://127.0.0.1:0", drainGrace: .zero) },
            caller: { .init(name: "\(name)-caller", discovery: $0, defaultTimeout: timeout, drainGrace: .zero) },
            host: { node in try await node.host("greeter", replicas: 4) { Greeter(actorSystem: $0) } }
        ) { _, caller in
            try await body(try Greeter.resolve(id: .service("greeter"), using: caller))
        }
    }

    /// Many callers at once on the global pool share the remote service's
    /// lock with the loop reading their answers (the steps of those that find
    /// it taken are run by its holder): each gets its own answer.
    @Test func concurrentCallersOnTheGlobalPoolEachGetTheirOwnAnswer() async throws {
        // Long: the calls beyond the node's room wait for it, beside the rest of the suite.
        try await Self.withGreeter("slot", timeout: .seconds(60)) { greeter in
            let calls = 500
            let answers = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<calls {
                    group.addTask { (index, try await greeter.hello(name: "\(index)")) }
                }
                var answers: [Int: String] = [:]
                for try await (index, answer) in group { answers[index] = answer }
                return answers
            }
            #expect(answers.count == calls)
            #expect(answers.allSatisfy { $0.value == "Hello, \($0.key)!" })
        }
    }

    /// 64 callers on the global pool that call again as soon as they are
    /// answered, as a load generator does: with more than
    /// `deferredSendsFrom` calls in flight their requests are filed, and the
    /// loop that reads a batch of answers queues the flush behind the callers
    /// it resumed (`RemoteServiceState.reserveFlush`). Every call is
    /// answered, with its own answer, long before its deadline.
    @Test func callersThatCallAgainAsSoonAsAnsweredEachGetTheirAnswers() async throws {
        try await Self.withGreeter("loop", timeout: .seconds(30)) { greeter in
            let (callers, rounds) = (64, 50)
            let wrong = try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<callers {
                    group.addTask {
                        var wrong = 0
                        for round in 0..<rounds where try await greeter.hello(name: "\(index).\(round)") != "Hello, \(index).\(round)!" {
                            wrong += 1
                        }
                        return wrong
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(wrong == 0)
        }
    }

    /// A caller cancelled while its call runs on the node: the call ends at
    /// once with `cancelled`, and the node is told (its method sees the
    /// cancellation), long before the call's own 60 s.
    @Test func aCallerCancelledWhileItsCallRunsEndsAtOnceAndTheNodeIsTold() async throws {
        let key = "cancel-running-\(UUID())"
        try await withNodeAndCaller(
            node: { .init(name: "cancel-node", discovery: $0, endpoint: "tcp://127.0.0.1:0", drainGrace: .zero) },
            caller: { .init(name: "cancel-caller", discovery: $0, defaultTimeout: .seconds(60), drainGrace: .zero) },
            host: { node in try await node.host("worker", replicas: 1) { Worker(actorSystem: $0) } }
        ) { _, caller in
            let worker = try Worker.resolve(id: .service("worker"), using: caller)
            let error = await cancelWhileRunning(worker, key: key, seconds: 60)
            #expect(error?.code == .cancelled)
            #expect(error?.attempts.count == 1, "the attempt that was sent is recorded")
            #expect(await Observations.shared.waitFor(key) { $0 == "cancelled" }, "the node's method saw the cancel")
        }
    }

    /// Calls cancelled in a burst, some running and most waiting for room
    /// (four a node at most), while the remote service's lock is contended:
    /// each ends with `cancelled`, and the room they held is given back, so
    /// the next call runs.
    @Test func callsCancelledInABurstEndCancelledAndGiveBackTheirRoom() async throws {
        let key = "cancel-burst-\(UUID())"
        try await withNodeAndCaller(
            node: { .init(name: "burst-node", discovery: $0, endpoint: "tcp://127.0.0.1:0", drainGrace: .zero) },
            caller: {
                .init(name: "burst-caller", discovery: $0, defaultTimeout: .seconds(60),
                      callLimits: CallLimits(perNode: 4, perService: 4, whenFull: .wait), drainGrace: .zero)
            },
            host: { node in try await node.host("worker", replicas: 4) { Worker(actorSystem: $0) } }
        ) { _, caller in
            let worker = try Worker.resolve(id: .service("worker"), using: caller)
            let calls = (0..<40).map { _ in Task { try await worker.wait(key, seconds: 60) } }
            // The four that hold the room are running on the node; the others wait for it.
            let started = StartCount()
            #expect(await Observations.shared.waitFor(key) { $0 == "started" && started.increment() == 4 })
            for call in calls { call.cancel() }
            var codes: [RemoteCallError.Code] = []
            for call in calls {
                do {
                    _ = try await call.value
                } catch let error as RemoteCallError {
                    codes.append(error.code)
                }
            }
            #expect(codes.count == 40)
            #expect(codes.allSatisfy { $0 == .cancelled }, "\(codes)")
            // The room is free again: a call runs at once rather than waiting 60 s.
            let after = try await CallOptions.$current.withValue(CallOptions(timeout: .seconds(30))) {
                try await worker.wait(key + "-after", seconds: 0)
            }
            #expect(after == "done")
        }
    }
}

/// Counts events a predicate sees (`Observations.waitFor` calls it from one task).
private final class StartCount: Sendable {
    private let count = Mutex(0)

    func increment() -> Int {
        count.withLock { count in
            count += 1
            return count
        }
    }
}
