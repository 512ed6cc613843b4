import CortMessagePack
import CortTesting
import Foundation
import Testing
@testable import Cort

/// A caller facing nodes that break the rules (scripted ROUTERs speaking
/// docs/PROTOCOL.md by hand): it accepts an answer only from the connection
/// its call went out on, and an answer it cannot use fails its call at once.
///
/// The callers keep time on a TestClock that never moves: no deadline ever
/// passes and no node is ever found silent, so a call that ends has ended
/// for what the node sent, however loaded the machine. (A caller that
/// waited for a deadline instead would hang: the suite's time limit fails it.)
@Suite(.timeLimit(.minutes(2))) struct HostileNodeTests {
    static func withScriptedNodes<R>(
        _ count: Int, maxMessageBytes: Int = 4 << 20,
        _ body: ([ScriptedNode], CortSystem) async throws -> R
    ) async throws -> R {
        let discovery = LocalDiscovery()
        var nodes: [ScriptedNode] = []
        for index in 0..<count {
            let node = try ScriptedNode()
            try await discovery.register(ServiceInstance(service: "greeter", id: "greeter@scripted-\(index)",
                                                         endpoint: node.endpoint))
            nodes.append(node)
        }
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(10),
                                                clock: TestClock(), maxMessageBytes: maxMessageBytes))
        do {
            let result = try await body(nodes, caller)
            await caller.shutdown()
            for node in nodes { await node.stop() }
            return result
        } catch {
            await caller.shutdown()
            for node in nodes { await node.stop() }
            throw error
        }
    }

    static func encoded(_ value: String) -> [UInt8] {
        try! MessagePackEncoder().encode(value)
    }

    @Test func aReplyFromAnotherNodeIsNotTaken() async throws {
        try await Self.withScriptedNodes(2) { nodes, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            let requests = Self.requests(of: nodes)
            let call = Task { try await greeter.hello(name: "Ada") }
            // Whichever node got the call, the other one answers it.
            let received = try #require(await next(requests, within: .seconds(30)))
            let (real, forger) = (nodes[received.0], nodes[1 - received.0])
            let callerID = try #require(await forger.waitForCaller(), "the other node was pinged too")
            #expect(callerID == received.1.caller)
            forger.send(.reply(id: received.1.request.id, result: Self.encoded("Hello, forged!")), to: callerID)
            // More calls, each answered by the node that got it, until one went
            // to the forger: its answer comes after the forged one on the same
            // connection, so once it is back the caller has read, and dropped,
            // the forgery.
            var forgerAnswered = false
            for attempt in 0..<20 where !forgerAnswered {
                let name = "Grace \(attempt)"
                let another = Task { try await greeter.hello(name: name) }
                let got = try #require(await next(requests, within: .seconds(30)))
                nodes[got.0].send(.reply(id: got.1.request.id, result: Self.encoded("Hello, \(name)!")), to: got.1.caller)
                #expect(try await another.value == "Hello, \(name)!")
                forgerAnswered = nodes[got.0] === forger
            }
            #expect(forgerAnswered, "none of 20 calls went to the other node")
            // The first call still waits for its own node, and takes its answer.
            real.send(.reply(id: received.1.request.id, result: Self.encoded("Hello, Ada!")), to: received.1.caller)
            #expect(try await call.value == "Hello, Ada!", "the caller took an answer from the wrong node")
        }
    }

    /// Every request `nodes` receive, in order, with the index of the node.
    /// (Racing one wait per node would cancel the losers' iteration, which
    /// ends their streams.)
    static func requests(of nodes: [ScriptedNode]) -> AsyncStream<(Int, ScriptedNode.Received)> {
        let (stream, continuation) = AsyncStream<(Int, ScriptedNode.Received)>.makeStream()
        for (index, node) in nodes.enumerated() {
            // Ends when the node stops.
            Task { for await request in node.requests { continuation.yield((index, request)) } }
        }
        return stream
    }

    @Test func callIdsOnTheWireAreNotSequential() async throws {
        try await Self.withScriptedNodes(1) { nodes, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            var ids: [UInt64] = []
            for _ in 0..<3 {
                let call = Task { try await greeter.hello(name: "Ada") }
                let received = try #require(await next(nodes[0].requests, within: .seconds(30)))
                ids.append(received.request.id)
                nodes[0].send(.reply(id: received.request.id, result: Self.encoded("hi")), to: received.caller)
                #expect(try await call.value == "hi")
            }
            #expect(ids[1] != ids[0] &+ 1 || ids[2] != ids[1] &+ 1, "\(ids)")
            #expect(Set(ids).count == 3)
        }
    }

    @Test func anAnswerThatCannotBeReadFailsItsCallAtOnce() async throws {
        try await Self.withScriptedNodes(1) { nodes, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            let call = Task { try await greeter.hello(name: "Ada") }
            let received = try #require(await next(nodes[0].requests, within: .seconds(30)))
            // A reply whose header is fine and whose result is a string, not a bin.
            var frame: [UInt8] = [0x94, 0x01, 0x02]
            frame += Self.uint64(received.request.id)
            frame += [0xa2, 0x68, 0x69]
            nodes[0].send([received.caller, frame])
            do {
                _ = try await call.value
                Issue.record("a malformed answer was taken")
            } catch let error as RemoteCallError {
                // At once: on the caller's clock, which stands still, its deadline never comes.
                #expect(error.code == .protocolError, "\(error)")
            }
        }
    }

    /// `count` calls to the scripted node, and the requests it received for them.
    static func calls(_ count: Int, to node: ScriptedNode, using caller: CortSystem)
        async throws -> [(Task<String, any Error>, ScriptedNode.Received)] {
        let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
        var calls: [(Task<String, any Error>, ScriptedNode.Received)] = []
        for index in 0..<count {
            let call = Task { try await greeter.hello(name: "caller \(index)") }
            calls.append((call, try #require(await next(node.requests, within: .seconds(30)))))
        }
        return calls
    }

    @Test func answersInABatchReachTheirCallsAndABadEntryFailsOnlyItsOwn() async throws {
        try await Self.withScriptedNodes(1) { nodes, caller in
            let calls = try await Self.calls(3, to: nodes[0], using: caller)
            let (first, second, third) = (calls[0].1.request.id, calls[1].1.request.id, calls[2].1.request.id)
            var batch = WireBatchWriter()
            batch.append(RawCaller.encode(.reply(id: first, result: Self.encoded("Hello, first!"))))
            batch.append([0xc1, 0x00])  // no header: dropped
            batch.append(RawCaller.encode(.ping(sequence: 3)))  // not an answer: dropped
            // A reply for the third call whose result is a string, not a bin.
            batch.append([0x94, 0x01, 0x02] + Self.uint64(third) + [0xa2, 0x68, 0x69])
            batch.append(RawCaller.encode(.reply(id: second, result: Self.encoded("Hello, second!"))))
            nodes[0].send([calls[0].1.caller, batch.finish()])
            #expect(try await calls[0].0.value == "Hello, first!")
            #expect(try await calls[1].0.value == "Hello, second!")
            // At once: on the caller's clock, which stands still, its deadline never comes.
            let error = await #expect(throws: RemoteCallError.self) { try await calls[2].0.value }
            #expect(error?.code == .protocolError)
        }
    }

    @Test func aMalformedBatchOfAnswersFailsItsCallsAtOnce() async throws {
        try await Self.withScriptedNodes(1) { nodes, caller in
            let calls = try await Self.calls(2, to: nodes[0], using: caller)
            var batch = WireBatchWriter()
            for (_, received) in calls {
                batch.append(RawCaller.encode(.reply(id: received.request.id, result: Self.encoded("Hello!"))))
            }
            // A byte after the batch: nothing in it is taken.
            nodes[0].send([calls[0].1.caller, batch.finish() + [0xc0]])
            for (call, _) in calls {
                let error = await #expect(throws: RemoteCallError.self) { try await call.value }
                #expect(error?.code == .protocolError)
                #expect(error?.message.contains("batch") == true, "\(String(describing: error))")
            }
        }
    }

    @Test func anAnswerOverTheLimitFailsItsCallAtOnce() async throws {
        try await Self.withScriptedNodes(1, maxMessageBytes: 64 << 10) { nodes, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            let call = Task { try await greeter.hello(name: "Ada") }
            let received = try #require(await next(nodes[0].requests, within: .seconds(30)))
            let big = try MessagePackEncoder().encode(String(repeating: "a", count: 100 << 10))
            nodes[0].send(.reply(id: received.request.id, result: big), to: received.caller)
            do {
                _ = try await call.value
                Issue.record("an answer over the limit was taken")
            } catch let error as RemoteCallError {
                // At once: on the caller's clock, which stands still, its deadline never comes.
                #expect(error.code == .messageTooLarge, "\(error)")
            }
            // The connection is still good.
            let next = Task { try await greeter.hello(name: "Grace") }
            let second = try #require(await CortTests.next(nodes[0].requests, within: .seconds(30)))
            nodes[0].send(.reply(id: second.request.id, result: Self.encoded("small")), to: second.caller)
            #expect(try await next.value == "small")
        }
    }

    @Test func aNodeWhoseAnswerIsOverTheLimitSaysSo() async throws {
        let discovery = LocalDiscovery()
        // Both on a clock that stands still: the call can end only by what the node says.
        let clock = TestClock()
        let node = try CortSystem.start(.init(name: "big", discovery: discovery, endpoint: "tcp://127.0.0.1:0",
                                              clock: clock, drainGrace: .zero, maxMessageBytes: 64 << 10))
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(10),
                                                clock: clock, maxMessageBytes: 64 << 10))
        try await node.host("probe") { Probe(actorSystem: $0) }
        let probe = try Probe.resolve(id: .service("probe"), using: caller)
        do {
            _ = try await probe.filler(100 << 10)
            Issue.record("an answer over the limit arrived")
        } catch let error as RemoteCallError {
            #expect(error.code == .messageTooLarge, "\(error)")
        }
        #expect(try await probe.filler(10).count == 10)
        await caller.shutdown()
        await node.shutdown()
    }

    static func uint64(_ value: UInt64) -> [UInt8] {
        [0xcf] + withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}
