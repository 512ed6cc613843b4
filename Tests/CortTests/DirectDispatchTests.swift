@testable import Cort
import Distributed
import CortMessagePack
import Foundation
import Synchronization
import Testing

/// Counts the results a node made and has let go of.
final class ReleaseCounter: Sendable {
    static let shared = ReleaseCounter()
    let made = Atomic<Int>(0)
    let released = Atomic<Int>(0)
}

/// A result that holds an object: its deinit says the node released it.
struct HeldResult: Codable, Sendable {
    final class Holder: Sendable {
        init() { ReleaseCounter.shared.made.add(1, ordering: .relaxed) }
        deinit { ReleaseCounter.shared.released.add(1, ordering: .relaxed) }
    }

    var text: String
    var holder: Holder?

    init(text: String) {
        self.text = text
        holder = Holder()
    }

    enum CodingKeys: String, CodingKey { case text }

    init(from decoder: any Decoder) throws {
        text = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .text)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(text, forKey: .text)
    }
}

/// Methods for the direct path: a held result, and a generic one (which never gets a direct dispatch).
distributed actor Dispatched {
    typealias ActorSystem = CortSystem

    distributed func held(_ text: String) -> HeldResult { HeldResult(text: text) }
    distributed func describe<Value: Codable & Sendable>(_ value: Value) -> String { "\(value)" }
}

/// A node runs a target it has run before without reading its types again
/// (``DirectDispatch``); what a caller sees is the same.
@Suite struct DirectDispatchTests {
    @Test func aTargetRunOnceIsRunDirectlyAfterwardsWithTheSameResultsAndErrors() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("shapes") { Shapes(actorSystem: $0) }
            try await node.host("worker") { Worker(actorSystem: $0) }
        }) { nodes, caller in
            let shapes = try Shapes.resolve(id: .service("shapes"), using: caller)
            let worker = try Worker.resolve(id: .service("worker"), using: caller)
            let drawing = Drawing(title: "t", shapes: [], tags: ["a": 1], thumbnail: Data([1, 2]),
                                  createdAt: Date(timeIntervalSince1970: 1_000_000))
            for round in 0..<3 {
                #expect(try await shapes.echo(drawing) == drawing)
                #expect(try await shapes.optional(21) == 42)
                #expect(try await shapes.optional(nil) == nil)
                try await shapes.nothing()
                #expect(try await shapes.many(-3, .max, 1.5, true, ["x", "y"]) == "-3 18446744073709551615 1.5 true x,y")
                let refused = await #expect(throws: RemoteCallError.self) { try await worker.refuse("round \(round)") }
                #expect(refused?.message.contains("Refusal(reason: \"round \(round)\")") == true,
                        "\(String(describing: refused))")
                let failed = await #expect(throws: RemoteCallError.self) { try await worker.fail() }
                #expect(failed?.code == .remoteApplicationError && failed?.message.contains("Unregistered") == true,
                        "\(String(describing: failed))")
            }
            // Every one of them was run directly after the first time.
            let shapesType = String(reflecting: Shapes.self)
            let called = ["Shapes.echo(_:)", "Shapes.optional(_:)", "Shapes.nothing()", "Shapes.many(_:_:_:_:_:)"]
            for method in DistributedMethods.of(Shapes.self) where called.contains(method.name) {
                let known = try #require(nodes[0].targets.lookUp(method.target, on: shapesType), "\(method.name)")
                #expect(known.dispatch != nil, "\(method.name) is run directly")
            }
        }
    }

    @Test func argumentsThatDoNotFitAreBadArgumentsOnTheDirectPathToo() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("greeter") { Greeter(actorSystem: $0) }
        }) { nodes, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            #expect(try await greeter.hello(name: "Ada") == "Hello, Ada!")
            let target = try #require(DistributedMethods.of(Greeter.self).first { $0.name == "Greeter.hello(name:)" })
            #expect(nodes[0].targets.lookUp(target.target, on: String(reflecting: Greeter.self))?.dispatch != nil)
            // An Int where a String belongs, through the same entry point cort call uses.
            let wrong = await #expect(throws: RemoteCallError.self) {
                try await caller.call(service: "greeter", target: target.target, method: target.name,
                                      arguments: [try MessagePackEncoderShim.encode(17)])
            }
            #expect(wrong?.code == .badArguments && wrong?.message.contains("argument 1 is not a String") == true,
                    "\(String(describing: wrong))")
            let none = await #expect(throws: RemoteCallError.self) {
                try await caller.call(service: "greeter", target: target.target, method: target.name, arguments: [])
            }
            #expect(none?.code == .badArguments, "\(String(describing: none))")
            #expect(try await greeter.hello(name: "Grace") == "Hello, Grace!")
        }
    }

    @Test func aDirectlyRunResultIsReleasedAndAGenericTargetHasNoDirectDispatch() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("dispatched") { Dispatched(actorSystem: $0) }
        }) { nodes, caller in
            let dispatched = try Dispatched.resolve(id: .service("dispatched"), using: caller)
            let releasedBefore = ReleaseCounter.shared.released.load(ordering: .relaxed)
            let madeBefore = ReleaseCounter.shared.made.load(ordering: .relaxed)
            for index in 0..<20 {
                #expect(try await dispatched.held("r\(index)").text == "r\(index)")
            }
            // The node's 20 results (the caller's decoded copies hold no object) were all released.
            #expect(ReleaseCounter.shared.made.load(ordering: .relaxed) - madeBefore == 20)
            #expect(ReleaseCounter.shared.released.load(ordering: .relaxed) - releasedBefore == 20)

            // cort's callers do not send generic calls; such a target never gets a direct dispatch.
            let generic = try #require(DistributedMethods.of(Dispatched.self).first { $0.name.hasPrefix("Dispatched.describe") })
            #expect(DirectDispatch(target: generic.target) == nil)
            let held = try #require(DistributedMethods.of(Dispatched.self).first { $0.name == "Dispatched.held(_:)" })
            #expect(nodes[0].targets.lookUp(held.target, on: String(reflecting: Dispatched.self))?.dispatch != nil)
        }
    }
}

/// MessagePack bytes of a value, as a typed call sends an argument.
enum MessagePackEncoderShim {
    static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        try CortMessagePack.MessagePackEncoder().encode(value)
    }
}
