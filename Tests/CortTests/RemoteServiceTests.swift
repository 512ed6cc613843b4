import CortZeroMQ
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

    /// Many callers at once on the global pool share the remote service's
    /// lock with the loop reading their answers (the steps of those that find
    /// it taken are run by its holder): each gets its own answer.
    @Test func concurrentCallersOnTheGlobalPoolEachGetTheirOwnAnswer() async throws {
        try await withNodeAndCaller(
            node: { .init(name: "slot-node", discovery: $0, endpoint: "tcp://127.0.0.1:0", drainGrace: .zero) },
            // Long: the calls beyond the node's room wait for it, beside the rest of the suite.
            caller: { .init(name: "slot-caller", discovery: $0, defaultTimeout: .seconds(60), drainGrace: .zero) },
            host: { node in try await node.host("greeter", replicas: 4) { Greeter(actorSystem: $0) } }
        ) { _, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
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
}
