@testable import Cort
import CortZeroMQ
import Distributed
import Testing

/// `describe` (docs/PROTOCOL.md) from a raw DEALER, as any peer could send it.
@Suite struct DescribeTests {
    @Test func aNodeDescribesItsServicesAndTheirMethodsAndKeepsServing() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("catalogue", replicas: 2) { Catalogued(actorSystem: $0) }
            try await node.host("greeter") { Greeter(actorSystem: $0) }
        }) { nodes, caller in
            let raw = try RawCaller()
            defer { raw.close() }
            try raw.connect(try #require(nodes[0].endpoint))
            try await raw.send(.describe(sequence: 41))
            guard case .description(41, let services) = try await raw.receive(within: .seconds(30)) else {
                Issue.record("no description for sequence 41")
                return
            }
            #expect(services.map(\.name) == ["catalogue", "greeter"])
            #expect(services.map(\.actorType) == [String(reflecting: Catalogued.self), String(reflecting: Greeter.self)])
            #expect(services[0].methods == DistributedMethods.of(Catalogued.self))
            #expect(services[1].methods.map(\.name) == ["Greeter.hello(name:)", "Greeter.whoAmI()"])

            // The same again (the lists are read once), and calls go on.
            try await raw.send(.describe(sequence: 42))
            guard case .description(42, let again) = try await raw.receive(within: .seconds(30)) else {
                Issue.record("no description for sequence 42")
                return
            }
            #expect(again == services)
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            #expect(try await greeter.hello(name: "Ada") == "Hello, Ada!")
        }
    }

    @Test func aDescriptionOverTheMessageLimitIsAnsweredMessageTooLarge() async throws {
        let node = try CortSystem.start(.init(name: "small", discovery: LocalDiscovery(),
                                              endpoint: "tcp://127.0.0.1:0", maxMessageBytes: 1024))
        let answer: Envelope?
        do {
            for index in 0..<12 {
                try await node.host("catalogue-\(index)") { Catalogued(actorSystem: $0) }
            }
            let raw = try RawCaller()
            defer { raw.close() }
            try raw.connect(try #require(node.endpoint))
            try await raw.send(.describe(sequence: 7))
            answer = try await raw.receive(within: .seconds(30))
        } catch {
            await node.shutdown()
            throw error
        }
        await node.shutdown()
        guard case .failure(7, let failure) = answer else {
            Issue.record("expected an error answer to sequence 7, got \(String(describing: answer))")
            return
        }
        #expect(failure.code == .messageTooLarge, "\(failure.message)")
    }
}
