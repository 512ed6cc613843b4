@testable import Cort
import CortMessagePack
import Distributed
import Foundation
import Testing

/// An error a ``Abacus`` declares: callers get it back as itself.
struct Shortage: Error, Codable, Sendable, Equatable {
    let item: String
}

/// A result whose encoding always fails.
struct Unencodable: Codable, Sendable {
    init() {}
    init(from decoder: any Decoder) throws {}
    func encode(to encoder: any Encoder) throws {
        throw EncodingError.invalidValue(0, EncodingError.Context(codingPath: [], debugDescription: "never encodes"))
    }
}

/// A service with a generated dispatch: methods of every shape the macro
/// writes a case for, and some it leaves to the runtime (an overload pair,
/// and a method that shares its key with one of an extension).
@CortService
distributed actor Abacus {
    typealias ActorSystem = CortSystem
    static var remoteErrors: [any (Error & Codable & Sendable).Type] { [Shortage.self] }

    private var total = 0

    distributed func add(_ amount: Int, to label: String) -> String {
        total += amount
        return "\(label)=\(total)"
    }

    distributed func doubled(`default` value: Int) async -> Int {
        await Task.yield()
        return value * 2
    }

    distributed func take(_ item: String) throws -> Int {
        throw Shortage(item: item)
    }

    distributed func reset() {
        total = 0
    }

    distributed func resetLater() async throws {
        try await Task.sleep(for: .milliseconds(1))
        total = 0
    }

    /// The method its call context names, and its deadline's presence.
    distributed func context() -> String {
        "\(CallContext.current?.method ?? "none") \(CallContext.current?.deadline != nil)"
    }

    distributed func broken() -> Unencodable {
        Unencodable()
    }

    distributed func value(_ number: Int) -> Int { number }
    distributed func value(_ text: String) -> String { text }

    /// Shares its name and label with a method of an extension, which the macro does not see.
    distributed func size(_ number: Int) -> Int { number }
}

extension Abacus {
    /// Would be run as the body's `size(_:)` (an Int64 reads as an Int) if the node trusted the macro alone.
    distributed func size(_ number: Int64) -> String { "extension \(number)" }
}

/// `@CortService` writes a dispatch the node runs a hosted type's methods
/// through; callers see what the runtime's path gives them.
@Suite struct CortServiceMacroTests {
    @Test func callsRunThroughTheGeneratedDispatchWithTheRuntimesResultsAndErrors() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("tally", replicas: 1) { Abacus(actorSystem: $0) }
        }) { nodes, caller in
            let tally = try Abacus.resolve(id: .service("tally"), using: caller)
            let before = nodes[0].dispatchedCalls.load(ordering: .relaxed)
            let synchronousBefore = nodes[0].synchronouslyDispatchedCalls.load(ordering: .relaxed)
            #expect(try await tally.add(2, to: "x") == "x=2")
            #expect(try await tally.add(3, to: "y") == "y=5")
            #expect(try await tally.doubled(default: 21) == 42)
            let shortage = await #expect(throws: Shortage.self) { try await tally.take("lamp") }
            #expect(shortage == Shortage(item: "lamp"))
            try await tally.reset()
            #expect(try await tally.add(1, to: "z") == "z=1")
            try await tally.resetLater()
            #expect(try await tally.add(4, to: "w") == "w=4")
            #expect(try await tally.context() == "Abacus.context() true")
            let broken = await #expect(throws: RemoteCallError.self) { try await tally.broken() }
            #expect(broken?.code == .remoteApplicationError && broken?.message.contains("could not be encoded") == true,
                    "\(String(describing: broken))")
            #expect(nodes[0].dispatchedCalls.load(ordering: .relaxed) - before == 10)
            // All but `doubled` and `resetLater` (async) ran without an async call.
            #expect(nodes[0].synchronouslyDispatchedCalls.load(ordering: .relaxed) - synchronousBefore == 8)

            // An overload pair shares a name: the runtime's path runs both.
            #expect(try await tally.value(7) == 7)
            #expect(try await tally.value("seven") == "seven")
            // So do a method and one of an extension with the same key.
            #expect(try await tally.size(Int64(5)) == "extension 5")
            #expect(try await tally.size(5) == 5)
            #expect(nodes[0].dispatchedCalls.load(ordering: .relaxed) - before == 10)
        }
    }

    @Test func argumentsThatDoNotFitAreBadArgumentsAndTheMethodDoesNotRun() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("tally", replicas: 1) { Abacus(actorSystem: $0) }
        }) { _, caller in
            let tally = try Abacus.resolve(id: .service("tally"), using: caller)
            let add = try #require(DistributedMethods.of(Abacus.self).first { $0.name == "Abacus.add(_:to:)" })
            // A String where the Int belongs.
            let wrong = await #expect(throws: RemoteCallError.self) {
                try await caller.call(service: "tally", target: add.target, method: add.name,
                                      arguments: [try MessagePackEncoderShim.encode("two"),
                                                  try MessagePackEncoderShim.encode("x")])
            }
            #expect(wrong?.code == .badArguments && wrong?.message.contains("argument 1 is not a Int") == true,
                    "\(String(describing: wrong))")
            // One argument short.
            let short = await #expect(throws: RemoteCallError.self) {
                try await caller.call(service: "tally", target: add.target, method: add.name,
                                      arguments: [try MessagePackEncoderShim.encode(2)])
            }
            #expect(short?.code == .badArguments, "\(String(describing: short))")
            // Neither ran: the total is still 0.
            #expect(try await tally.add(1, to: "t") == "t=1")
        }
    }

    @Test func aGeneratedDispatchRunsOnTheReplicaOnTheReactorAndCallsStillTimeOut() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("placement", replicas: 2) { Placement(actorSystem: $0) }
        }) { nodes, caller in
            let placement = try Placement.resolve(id: .service("placement"), using: caller)
            let before = nodes[0].dispatchedCalls.load(ordering: .relaxed)
            let synchronousBefore = nodes[0].synchronouslyDispatchedCalls.load(ordering: .relaxed)
            for _ in 0..<10 {
                #expect(try await placement.runsOnReactor())
            }
            #expect(nodes[0].dispatchedCalls.load(ordering: .relaxed) - before == 10)
            #expect(nodes[0].synchronouslyDispatchedCalls.load(ordering: .relaxed) - synchronousBefore == 10)
            // A call that outlives its deadline ends with deadlineExceeded.
            let key = "macro-deadline-\(UUID())"
            defer { Gates.shared.gate(key).signal() }
            let late = await #expect(throws: RemoteCallError.self) {
                try await withCallOptions(timeout: .milliseconds(300)) { try await placement.block(key) }
            }
            #expect(late?.code == .deadlineExceeded, "\(String(describing: late))")
        }
    }
}
