import Foundation
import Testing
@testable import CortMessagePack

/// Checks cort's codec against vectors written by the reference Python
/// implementation (tools/golden/generate.py).
struct GoldenVectorTests {
    struct Case: Decodable {
        let name: String
        let hex: String
        let canonical: Bool
        var bytes: [UInt8] { Hex.bytes(hex) }
    }

    struct File: Decodable {
        let cases: [Case]
    }

    /// A struct with fields f00, f01, ... in order.
    struct Fields: Codable, Equatable {
        var values: [Int]
        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        init(count: Int) { values = Array(0..<count) }
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: Key.self)
            values = try (0..<container.allKeys.count).map {
                try container.decode(Int.self, forKey: Key(stringValue: String(format: "f%02d", $0)))
            }
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Key.self)
            for (index, value) in values.enumerated() {
                try container.encode(value, forKey: Key(stringValue: String(format: "f%02d", index)))
            }
        }
    }

    struct Point: Codable, Equatable { var x: Int; var y: Int }

    struct Inner: Codable, Equatable {
        var x: Double
        var y: Int?
        enum CodingKeys: String, CodingKey { case x, y }
        init(x: Double, y: Int?) { self.x = x; self.y = y }
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            x = try container.decode(Double.self, forKey: .x)
            y = try container.decode(Int?.self, forKey: .y)
        }
        // Writes `y: nil` explicitly, as Python does for None.
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(x, forKey: .x)
            try container.encode(y, forKey: .y)
        }
    }

    struct Nested: Codable, Equatable {
        var id: Int
        var name: String
        var tags: [String]
        var inner: Inner
        var ok: Bool
    }

    struct Check {
        let run: @Sendable (Case) throws -> Void
    }

    static func expect<T: Codable & Equatable & Sendable>(_ value: T) -> Check {
        Check { vector in
            let decoded = try MessagePackDecoder().decode(T.self, from: vector.bytes)
            #expect(decoded == value, "decode of \(vector.name)")
            let encoded = try MessagePackEncoder().encode(value)
            if vector.canonical {
                #expect(Hex.string(encoded) == vector.hex, "encode of \(vector.name)")
            } else {
                #expect(try MessagePackDecoder().decode(T.self, from: encoded) == value, "re-encode of \(vector.name)")
            }
        }
    }

    static func date(_ seconds: Double) -> Check { expect(Date(timeIntervalSince1970: seconds)) }

    static let expectations: [String: Check] = {
        var table: [String: Check] = [:]
        for value: UInt64 in [0, 1, 127, 128, 255, 256, 65535, 65536, 4_294_967_295, 4_294_967_296, .max] {
            table["uint \(value)"] = expect(value)
        }
        for value: Int64 in [-1, -32, -33, -128, -129, -32768, -32769, -2_147_483_648, -2_147_483_649, .min] {
            table["int \(value)"] = expect(value)
        }
        table["wide uint64 1"] = expect(1 as Int)
        table["wide int8 5"] = expect(5 as UInt8)
        table["wide int64 -1"] = expect(-1 as Int8)
        table["wide uint16 7"] = expect(7 as UInt)
        table["float32 1.5"] = expect(1.5 as Float)
        table["float32 -0.25"] = expect(-0.25 as Float)
        table["float64 0.1"] = expect(0.1)
        table["float64 -1e300"] = expect(-1e300)
        table["float64 inf"] = expect(Double.infinity)
        table["float64 1.0"] = expect(1.0)
        table["str empty"] = expect("")
        table["str 31"] = expect(String(repeating: "a", count: 31))
        table["str 32"] = expect(String(repeating: "b", count: 32))
        table["str 255"] = expect(String(repeating: "c", count: 255))
        table["str 256"] = expect(String(repeating: "d", count: 256))
        table["str 65536"] = expect(String(repeating: "f", count: 65536))
        table["str unicode"] = expect("h\u{e9}llo \u{1F30D} \u{65e5}\u{672c}")
        table["wide str32 hi"] = expect("hi")
        table["bin empty"] = expect(Data())
        table["bin 3"] = expect([0, 1, 255] as [UInt8])
        table["bin 255"] = expect((0..<255).map { UInt8($0) })
        table["bin 256"] = expect(Data((0..<256).map { UInt8($0 % 256) }))
        table["bin 65536"] = expect((0..<65536).map { UInt8($0 % 251) })
        table["wide bin16 2"] = expect([0xab, 0xcd] as [UInt8])
        table["array empty"] = expect([Int]())
        table["array 3"] = expect([1, 2, 3])
        table["array 15"] = expect(Array(0..<15))
        table["array 16"] = expect(Array(0..<16))
        table["array 65536"] = expect(Array(repeating: 1 as UInt8, count: 65536).map(Int.init))
        table["array mixed strings"] = expect(["a", "bc", ""])
        table["wide array32 2"] = expect([1, 2] as [Int16])
        table["map empty"] = expect([String: Int]())
        table["struct point"] = expect(Point(x: 1, y: -2))
        table["struct 15 fields"] = expect(Fields(count: 15))
        table["struct 16 fields"] = expect(Fields(count: 16))
        table["struct nested"] = expect(Nested(id: 7, name: "node", tags: ["a", "b"], inner: Inner(x: 1.5, y: nil), ok: true))
        table["wide map32 1"] = expect(["x": 1])
        table["wide map16 1"] = expect(["x": 1])
        table["string map 1"] = expect(["1": "one"])
        table["string map 2"] = expect(["a": "x", "b": "y"])
        table["int map 1"] = expect([1: "one"])
        table["int map negative"] = expect([-5: "minus five"])
        table["int map 3"] = expect([1: "a", 300: "b", -70000: "c"])
        table["string to int map 3"] = expect(["k0": 0, "k1": 1, "k2": 2])
        table["timestamp32 1700000000"] = date(1_700_000_000)
        table["timestamp64 1700000000.5"] = date(1_700_000_000.5)
        table["timestamp64 max32 + 1"] = date(4_294_967_296)
        table["timestamp96 -0.5"] = date(-0.5)
        table["timestamp96 2^34"] = date(17_179_869_184.25)
        table["timestamp32 epoch"] = date(0)
        table["nil"] = expect(Int?.none)
        table["true"] = expect(true)
        table["false"] = expect(false)
        table["optional array"] = expect([1, nil, 3] as [Int?])
        return table
    }()

    static func load() throws -> [Case] {
        let url = try #require(Bundle.module.url(forResource: "vectors", withExtension: "json", subdirectory: "Golden"))
        return try JSONDecoder().decode(File.self, from: Data(contentsOf: url)).cases
    }

    @Test func everyVectorHasAnExpectationAndViceVersa() throws {
        let names = Set(try Self.load().map(\.name))
        #expect(names.count > 70)
        #expect(names == Set(Self.expectations.keys))
    }

    /// Async so that it yields between vectors: the whole table takes about
    /// a second of CPU in a debug build, too long to hold a thread of the
    /// cooperative pool from the tests beside it.
    @Test func vectorsDecodeToTheExpectedValuesAndCanonicalOnesEncodeIdentically() async throws {
        for vector in try Self.load() {
            guard let check = Self.expectations[vector.name] else { continue }
            try check.run(vector)
            await Task.yield()
        }
    }
}
