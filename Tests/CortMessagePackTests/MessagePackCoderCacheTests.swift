import Foundation
import Testing
@testable import CortMessagePack

/// The coders keep the stream/session of one call for the next: these tests
/// check that nothing of a previous call leaks into a later one.
struct MessagePackCoderCacheTests {
    struct Pair: Codable, Equatable { var first: String; var second: Int }
    struct Outer: Codable, Equatable { var pair: Pair; var list: [Pair]; var tag: String }

    @Test func reusedSessionForgetsKeyHintsOfThePreviousInput() throws {
        let decoder = MessagePackDecoder()
        // Same shape and offsets, keys in opposite orders: a stale hint would
        // hand "second" the value of "first".
        let forward = Hex.bytes("82 a5666972737401 a67365636f6e6402")      // {"first": 1, "second": 2}
        let backward = Hex.bytes("82 a67365636f6e6402 a5666972737401")     // {"second": 2, "first": 1}
        struct Ints: Decodable, Equatable { var first: Int; var second: Int }
        for _ in 0..<3 {
            #expect(try decoder.decode(Ints.self, from: forward) == Ints(first: 1, second: 2))
            #expect(try decoder.decode(Ints.self, from: backward) == Ints(first: 1, second: 2))
        }
        let outer = Outer(pair: .init(first: "a", second: 1), list: [.init(first: "b", second: 2)], tag: "t")
        let bytes = try MessagePackEncoder().encode(outer)
        #expect(try decoder.decode(Outer.self, from: bytes) == outer)
        #expect(try decoder.decode(Ints.self, from: backward) == Ints(first: 1, second: 2))
    }

    @Test func reusedStreamStartsEmptyAfterErrorsAndLargeMessages() throws {
        let encoder = MessagePackEncoder()
        let small = Pair(first: "x", second: 7)
        let expected = try MessagePackEncoder().encode(small)
        // A misuse error leaves frames and a recorded misuse behind.
        struct Misuse: Encodable {
            func encode(to encoder: any Encoder) throws {
                var outer = encoder.unkeyedContainer()
                var inner = outer.nestedUnkeyedContainer()
                try outer.encode(1)
                try inner.encode(2)
            }
        }
        #expect(throws: EncodingError.self) { try encoder.encode(Misuse()) }
        #expect(try encoder.encode(small) == expected)
        let large = Pair(first: String(repeating: "z", count: 100_000), second: 1)
        #expect(try MessagePackDecoder().decode(Pair.self, from: encoder.encode(large)) == large)
        #expect(try encoder.encode(small) == expected)
        var buffer: [UInt8] = [0xff]
        try encoder.encode(small, into: &buffer)
        #expect(buffer == [0xff] + expected)
    }

    /// Keeps the `Encoder`/`Decoder` it is given, as a misbehaving type might.
    /// Only the test below touches these, from one thread.
    struct Keeper: Codable {
        nonisolated(unsafe) static var keptEncoder: (any Encoder)?
        nonisolated(unsafe) static var keptDecoder: (any Decoder)?
        init() {}
        init(from decoder: any Decoder) throws { Self.keptDecoder = decoder }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(1)
            Self.keptEncoder = encoder
        }
    }

    @Test func aCoderKeptByAValueIsNeverReused() throws {
        let encoder = MessagePackEncoder()
        _ = try encoder.encode(Keeper())
        let pair = Pair(first: "p", second: 3)
        let expected = try MessagePackEncoder().encode(pair)
        #expect(try encoder.encode(pair) == expected)
        // Writing through the kept encoder must not reach later calls.
        let kept = try #require(Keeper.keptEncoder)
        var container = kept.singleValueContainer()
        try container.encode("garbage")
        #expect(try encoder.encode(pair) == expected)
        Keeper.keptEncoder = nil

        let decoder = MessagePackDecoder()
        _ = try decoder.decode(Keeper.self, from: [0x01])
        #expect(try decoder.decode(Pair.self, from: expected) == pair)
        // The kept decoder no longer reaches any input.
        let keptDecoder = try #require(Keeper.keptDecoder)
        #expect(throws: DecodingError.self) { try keptDecoder.singleValueContainer().decode(Int.self) }
        #expect(try decoder.decode(Pair.self, from: expected) == pair)
        Keeper.keptDecoder = nil
    }

    @Test func codersSharingTheCacheKeepTheirOwnSettings() throws {
        let decoder = MessagePackDecoder()
        var shallow = decoder
        shallow.maxDepth = 1
        let nested = try MessagePackEncoder().encode(Outer(pair: .init(first: "a", second: 1), list: [], tag: "t"))
        for _ in 0..<3 {
            #expect(throws: DecodingError.self) { try shallow.decode(Outer.self, from: nested) }
            #expect(try decoder.decode(Outer.self, from: nested).tag == "t")
        }
        struct Reads: Decodable {
            var value: String?
            init(from decoder: any Decoder) throws {
                value = decoder.userInfo[CodingUserInfoKey(rawValue: "k")!] as? String
            }
        }
        var tagged = decoder
        tagged.userInfo[CodingUserInfoKey(rawValue: "k")!] = "v"
        #expect(try tagged.decode(Reads.self, from: [0x80]).value == "v")
        #expect(try decoder.decode(Reads.self, from: [0x80]).value == nil)
        #expect(try tagged.decode(Reads.self, from: [0x80]).value == "v")
        // The same for encoders: a reused stream takes each call's userInfo.
        struct Writes: Encodable {
            func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                try container.encode(encoder.userInfo[CodingUserInfoKey(rawValue: "k")!] as? String ?? "none")
            }
        }
        let plain = MessagePackEncoder()
        var taggedEncoder = plain
        taggedEncoder.userInfo[CodingUserInfoKey(rawValue: "k")!] = "v"
        for _ in 0..<2 {
            #expect(try decoder.decode(String.self, from: taggedEncoder.encode(Writes())) == "v")
            #expect(try decoder.decode(String.self, from: plain.encode(Writes())) == "none")
        }
    }

    @Test func concurrentCallsOnOneCoderPairStayCorrect() async throws {
        let encoder = MessagePackEncoder()
        let decoder = MessagePackDecoder()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    var buffer: [UInt8] = []
                    for index in 0..<300 {
                        let value = Outer(
                            pair: .init(first: "t\(task)", second: index),
                            list: Array(repeating: .init(first: "\(index)", second: task), count: index % 4),
                            tag: String(repeating: "x", count: index % 40))
                        buffer.removeAll(keepingCapacity: true)
                        try encoder.encode(value, into: &buffer)
                        let decoded = try decoder.decode(Outer.self, from: buffer)
                        if decoded != value { throw CancellationError() }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
