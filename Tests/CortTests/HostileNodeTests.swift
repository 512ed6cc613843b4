import CortMessagePack
import Foundation
import Testing
@testable import Cort

/// A caller facing nodes that break the rules (scripted ROUTERs speaking
/// docs/PROTOCOL.md by hand): it accepts an answer only from the connection
/// its call went out on, and an answer it cannot use fails its call at once.
@Suite struct HostileNodeTests {
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
                                                maxMessageBytes: maxMessageBytes))
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
            let call = Task {
                try await CallOptions.$current.withValue(CallOptions(timeout: .seconds(1))) {
                    try await greeter.hello(name: "Ada")
                }
            }
            // Whichever node got the call, the other one answers it.
            let received = try #require(await withTaskGroup(of: (Int, ScriptedNode.Received)?.self) { group in
                for (index, node) in nodes.enumerated() {
                    group.addTask { await next(node.requests, within: .seconds(5)).map { (index, $0) } }
                }
                // The first node that got it; the other's wait is cancelled at once.
                var first: (Int, ScriptedNode.Received)?
                while first == nil, let outcome = await group.next() { first = outcome }
                group.cancelAll()
                return first
            })
            let forger = nodes[1 - received.0]
            let caller = try #require(await forger.waitForCaller(), "the other node was pinged too")
            #expect(caller == received.1.caller)
            forger.send(.reply(id: received.1.request.id, result: Self.encoded("Hello, forged!")), to: caller)
            // The real node never answers: the call must end at its deadline,
            // not with the forged answer.
            do {
                let answer = try await call.value
                Issue.record("the caller took an answer from the wrong node: \(answer)")
            } catch let error as RemoteCallError {
                #expect(error.code == .deadlineExceeded, "\(error)")
            }
        }
    }

    @Test func callIdsOnTheWireAreNotSequential() async throws {
        try await Self.withScriptedNodes(1) { nodes, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            var ids: [UInt64] = []
            for _ in 0..<3 {
                let call = Task { try await greeter.hello(name: "Ada") }
                let received = try #require(await next(nodes[0].requests, within: .seconds(5)))
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
            let started = ContinuousClock.now
            let call = Task { try await greeter.hello(name: "Ada") }
            let received = try #require(await next(nodes[0].requests, within: .seconds(5)))
            // A reply whose header is fine and whose result is a string, not a bin.
            var frame: [UInt8] = [0x94, 0x01, 0x02]
            frame += Self.uint64(received.request.id)
            frame += [0xa2, 0x68, 0x69]
            nodes[0].send([received.caller, frame])
            do {
                _ = try await call.value
                Issue.record("a malformed answer was taken")
            } catch let error as RemoteCallError {
                #expect(error.code == .protocolError, "\(error)")
                #expect(ContinuousClock.now - started < .seconds(5), "at once, not at the 10 s deadline")
            }
        }
    }

    @Test func anAnswerOverTheLimitFailsItsCallAtOnce() async throws {
        try await Self.withScriptedNodes(1, maxMessageBytes: 64 << 10) { nodes, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            let started = ContinuousClock.now
            let call = Task { try await greeter.hello(name: "Ada") }
            let received = try #require(await next(nodes[0].requests, within: .seconds(5)))
            let big = try MessagePackEncoder().encode(String(repeating: "a", count: 100 << 10))
            nodes[0].send(.reply(id: received.request.id, result: big), to: received.caller)
            do {
                _ = try await call.value
                Issue.record("an answer over the limit was taken")
            } catch let error as RemoteCallError {
                #expect(error.code == .messageTooLarge, "\(error)")
                #expect(ContinuousClock.now - started < .seconds(5), "at once, not at the 10 s deadline")
            }
            // The connection is still good.
            let next = Task { try await greeter.hello(name: "Grace") }
            let second = try #require(await CortTests.next(nodes[0].requests, within: .seconds(5)))
            nodes[0].send(.reply(id: second.request.id, result: Self.encoded("small")), to: second.caller)
            #expect(try await next.value == "small")
        }
    }

    @Test func aNodeWhoseAnswerIsOverTheLimitSaysSo() async throws {
        let discovery = LocalDiscovery()
        let node = try CortSystem.start(.init(name: "big", discovery: discovery, endpoint: "tcp://127.0.0.1:0",
                                              maxMessageBytes: 64 << 10))
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(10),
                                                maxMessageBytes: 64 << 10))
        try await node.host("probe") { Probe(actorSystem: $0) }
        let probe = try Probe.resolve(id: .service("probe"), using: caller)
        let started = ContinuousClock.now
        do {
            _ = try await probe.filler(100 << 10)
            Issue.record("an answer over the limit arrived")
        } catch let error as RemoteCallError {
            #expect(error.code == .messageTooLarge, "\(error)")
            #expect(ContinuousClock.now - started < .seconds(5))
        }
        #expect(try await probe.filler(10).count == 10)
        await caller.shutdown()
        await node.shutdown()
    }

    static func uint64(_ value: UInt64) -> [UInt8] {
        [0xcf] + withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}
