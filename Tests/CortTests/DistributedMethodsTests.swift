@testable import Cort
import Distributed
import Testing

/// A type with the kinds of members a node describes.
distributed actor Catalogued: IdempotentMethods {
    typealias ActorSystem = CortSystem
    static let idempotentMethods: Set<String> = ["price(of:)"]

    struct Item: Codable, Sendable {
        var name: String
    }

    distributed func price(of item: Item) -> Double? { nil }
    distributed func tag(_ items: [Item], with tags: [String: [Int]]) throws -> Int { 0 }
    distributed var count: Int { 0 }
    func local() {}
}

/// Another type whose methods must not be listed as ``Catalogued``'s.
distributed actor CataloguedNeighbour {
    typealias ActorSystem = CortSystem
    distributed func price(of item: Catalogued.Item) -> Double { 0 }
}

@Suite struct DistributedMethodsTests {
    @Test func listsADistributedActorsOwnMethodsWithReadableDeclarations() throws {
        let methods = DistributedMethods.of(Catalogued.self)
        // A distributed property's thunk is a method without arguments on the wire.
        #expect(methods.map(\.name) == ["Catalogued.count()", "Catalogued.price(of:)", "Catalogued.tag(_:with:)"])
        #expect(methods.map(\.signature) == [
            "count() async throws -> Int",
            "price(of: Item) async throws -> Double?",
            "tag(_: [Item], with: [String: [Int]]) async throws -> Int",
        ])
        #expect(methods.map(\.isIdempotent) == [false, true, false])
        for method in methods {
            // What a typed call names, and the node's catalog accepts for this type.
            let target = try #require(TargetCatalog.read(method.target, on: String(reflecting: Catalogued.self)))
            #expect(target.method == method.name)
        }
        let neighbour = DistributedMethods.of(CataloguedNeighbour.self)
        #expect(neighbour.map(\.name) == ["CataloguedNeighbour.price(of:)"])
        #expect(neighbour.first?.signature == "price(of: Catalogued.Item) async throws -> Double")
    }

    @Test(arguments: [
        ("Optional<String>", "String?"),
        ("Array<Optional<Int>>", "[Int?]"),
        ("Dictionary<String, Array<Point>>", "[String: [Point]]"),
        ("Optional<(Int) -> Swift.Int>", "((Int) -> Swift.Int)?"),
        ("f(_: MyOptional<Int>, _: Optional<Dictionary<A<B, C>, D>>) -> ()", "f(_: MyOptional<Int>, _: [A<B, C>: D]?) -> ()"),
        ("Optional<", "Optional<"),
    ])
    func sugarsTheStandardGenericTypes(demangled: String, written: String) {
        #expect(DistributedMethods.sugared(demangled) == written)
    }
}
