import Foundation
import Synchronization
import Testing
@testable import CortMessagePack

struct MessagePackDecoderTests {
    let decoder = MessagePackDecoder()

    func decode<T: Decodable>(_ type: T.Type, _ hex: String) throws -> T {
        try decoder.decode(type, from: Hex.bytes(hex))
    }

    /// The DecodingError's coding path (as strings) and its MessagePackError code.
    func failure<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], decoder: MessagePackDecoder? = nil) -> (path: [String], code: MessagePackError.Code?, error: DecodingError)? {
        do {
            _ = try (decoder ?? self.decoder).decode(type, from: bytes)
            return nil
        } catch let error as DecodingError {
            let context: DecodingError.Context
            switch error {
            case .dataCorrupted(let c), .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c): context = c
            @unknown default: return nil
            }
            let code = (context.underlyingError as? MessagePackError)?.code
            return (context.codingPath.map(\.stringValue), code, error)
        } catch {
            Issue.record("not a DecodingError: \(error)")
            return nil
        }
    }

    struct Call: Codable, Equatable {
        var id: UInt8
        var name: String
        var inner: Inner
        struct Inner: Codable, Equatable { var when: Date; var tags: [String] }
    }

    static let call = Call(id: 7, name: "n", inner: .init(when: Date(timeIntervalSince1970: 12), tags: ["a", "b"]))

    @Test func integersDecodeFromEveryFormatWhenInRange() throws {
        #expect(try decode(UInt8.self, "ccff") == 255)
        #expect(try decode(Int.self, "d0df") == -33)
        #expect(try decode(Int8.self, "d3ffffffffffffff80") == -128)
        #expect(try decode(UInt64.self, "cfffffffffffffffff") == .max)
        #expect(try decode(Int64.self, "d38000000000000000") == .min)
        #expect(try decode(UInt16.self, "d000") == 0)
    }

    @Test func outOfRangeIntegersAreDecodingErrors() throws {
        let tooBig = try #require(failure(UInt8.self, Hex.bytes("cd012c")))
        #expect(tooBig.code == .integerOverflow)
        let negative = try #require(failure(UInt.self, Hex.bytes("ff")))
        #expect(negative.code == .integerOverflow)
        #expect(failure(Int8.self, Hex.bytes("cc80"))?.code == .integerOverflow)
        #expect(failure(Int64.self, Hex.bytes("cf8000000000000000"))?.code == .integerOverflow)
        // Each unsigned format at its largest value, into types that hold it and one that does not.
        #expect(try decode(UInt8.self, "ccff") == 255)
        #expect(failure(Int16.self, Hex.bytes("cdffff"))?.code == .integerOverflow)
        #expect(try decode(UInt16.self, "cdffff") == 65535)
        #expect(try decode(Int64.self, "ceffffffff") == 4_294_967_295)
        #expect(failure(Int32.self, Hex.bytes("ceffffffff"))?.code == .integerOverflow)
        #expect(try decode(UInt64.self, "cfffffffffffffffff") == UInt64.max)
        #expect(try decode(Int.self, "cf7fffffffffffffff") == Int.max)
        #expect(failure(UInt64.self, Hex.bytes("cfffffffffffff"))?.code == .truncated)
        struct Holder: Decodable { var small: UInt8 }
        let nested = try #require(failure(Holder.self, Hex.bytes("81a5736d616c6ccd012c")))
        #expect(nested.path == ["small"])
    }

    @Test func floatsAndIntegersIntoFloatingPoint() throws {
        #expect(try decode(Double.self, "ca3fc00000") == 1.5)
        #expect(try decode(Double.self, "cb3ff8000000000000") == 1.5)
        #expect(try decode(Double.self, "05") == 5)
        #expect(try decode(Float.self, "cb3ff8000000000000") == 1.5)
        #expect(try decode(Float.self, "ff") == -1)
        #expect(failure(Float.self, Hex.bytes("cbfe37e43c8800759c"))?.code == .integerOverflow)
        #expect(failure(Double.self, Hex.bytes("cf7fffffffffffffff"))?.code == .integerOverflow)
        // Floats never decode into integers.
        #expect(failure(Int.self, Hex.bytes("cb3ff0000000000000"))?.code == .typeMismatch)
    }

    @Test func bytesAcceptBinAndArraysOfSmallIntegers() throws {
        #expect(try decode([UInt8].self, "c403010203") == [1, 2, 3])
        #expect(try decode(Data.self, "93010203") == Data([1, 2, 3]))
        #expect(failure([UInt8].self, Hex.bytes("9201cd0100"))?.code == .integerOverflow)
    }

    @Test func keyedLookupWorksInAnyOrderAndIgnoresUnknownKeys() throws {
        struct Point: Decodable, Equatable { var x: Int; var y: Int; var z: Int? }
        // {"q": [1, {}], "y": 2, "x": 1}
        let point = try decode(Point.self, "83a1719201 80a17902a17801")
        #expect(point == Point(x: 1, y: 2, z: nil))
        // Keys written by another producer as integers match CodingKey.intValue.
        enum Key: Int, CodingKey { case a = 1 }
        struct ByInt: Decodable { var a: String; enum CodingKeys: Int, CodingKey { case a = 1 } }
        #expect(try decode(ByInt.self, "8101a3616263").a == "abc")
        // Mixed keys: a string key and an integer key in one map, in both
        // orders; a key found under neither is keyNotFound.
        struct Mixed: Decodable, Equatable {
            var a: String; var b: Int
            enum CodingKeys: Int, CodingKey { case a = 1, b = 2 }
        }
        #expect(try decode(Mixed.self, "82a16201 01a178") == Mixed(a: "x", b: 1))
        #expect(try decode(Mixed.self, "82 01a178 a16201") == Mixed(a: "x", b: 1))
        if case .keyNotFound(let key, _)? = failure(Mixed.self, Hex.bytes("82 03a178 a16201"))?.error {
            #expect(key.stringValue == "a")
        } else {
            Issue.record("expected keyNotFound for a")
        }
    }

    @Test func keyNamesAreComparedByLengthAndEveryByte() throws {
        // Names that share long prefixes, differ only in their last byte (past
        // the 8-byte steps of the comparison), are prefixes of one another,
        // are empty or are not ASCII, written in an order unlike the fields'.
        struct Names: Codable, Equatable {
            var abcdefghij1: Int
            var abcdefghij2: Int
            var abcdefghij: Int
            var a: Int
            var blank: Int
            var café: Int
            enum CodingKeys: String, CodingKey {
                case abcdefghij1, abcdefghij2, abcdefghij, a, blank = "", café
            }
        }
        // {"abcdefghij2": 2, "": 5, "café": 6, "abcdefghij": 3, "a": 4, "abcdefghij1": 1}
        let hex = "86 ab6162636465666768696a32 02 a0 05 a5636166c3a9 06 aa6162636465666768696a 03 a161 04 ab6162636465666768696a31 01"
        #expect(try decode(Names.self, hex) == Names(abcdefghij1: 1, abcdefghij2: 2, abcdefghij: 3, a: 4, blank: 5, café: 6))
        // A key one byte short of a field's name is not that field.
        struct Long: Decodable { var abcdefghij1: Int }
        let result = try #require(failure(Long.self, Hex.bytes("81aa6162636465666768696a01")))
        guard case .keyNotFound(let key, _) = result.error else { Issue.record("\(result.error)"); return }
        #expect(key.stringValue == "abcdefghij1")
    }

    @Test func keyNamesDifferingInAnyOneByteDoNotMatch() throws {
        struct Name: CodingKey {
            var stringValue: String
            init(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }
        // Reads "x", then `name`: the entry after "x" (tried first, as the
        // next in order) is `name` with one byte changed, and must not match.
        struct Probe: Decodable {
            static let name = TaskLocal<String>(wrappedValue: "")
            var x: Int, value: Int, hasOther: Bool
            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: Name.self)
                x = try container.decode(Int.self, forKey: Name(stringValue: "x"))
                value = try container.decode(Int.self, forKey: Name(stringValue: Self.name.get()))
                hasOther = container.contains(Name(stringValue: Self.name.get() + "?"))
            }
        }
        for length in 1...17 {
            let name = String((0..<length).map { Character(UnicodeScalar(UInt8(0x61 + $0))) })
            for position in 0..<length {
                var other = Array(name.utf8)
                other[position] ^= 0x01
                // {"x": 0, other: 1, name: 2}
                let bytes: [UInt8] = [0x83, 0xa1, 0x78, 0x00, 0xa0 | UInt8(length)] + other + [0x01]
                    + [0xa0 | UInt8(length)] + Array(name.utf8) + [0x02]
                let probe = try Probe.name.withValue(name) { try MessagePackDecoder().decode(Probe.self, from: bytes) }
                #expect(probe.value == 2, "\(name) vs \(String(decoding: other, as: UTF8.self))")
                #expect(!probe.hasOther)
            }
        }
    }

    @Test func missingKeyIsKeyNotFound() throws {
        struct Need: Decodable { var must: Int }
        let result = try #require(failure(Need.self, Hex.bytes("80")))
        guard case .keyNotFound(let key, _) = result.error else { Issue.record("\(result.error)"); return }
        #expect(key.stringValue == "must")
    }

    @Test func intKeyedAndStringKeyedDictionaries() throws {
        #expect(try decode([Int: String].self, "8101a161") == [1: "a"])
        #expect(try decode([Int: String].self, "81a131a161") == [1: "a"])
        #expect(try decode([String: String].self, "81a131a161") == ["1": "a"])
        // String maps of every size around the small-map path; a repeated key keeps its last value.
        #expect(try decode([String: String].self, "80") == [:])
        #expect(try decode([String: String].self, "82a161a131a161a132") == ["a": "2"])
        for size in 1...12 {
            let map = Dictionary(uniqueKeysWithValues: (0..<size).map { ("k\($0)", "v\($0)") })
            #expect(try MessagePackDecoder().decode([String: String].self, from: MessagePackEncoder().encode(map)) == map)
        }
        #expect(failure([String: Int].self, Hex.bytes("810101"))?.code == .typeMismatch)
    }

    @Test func roundTripsOfManyShapes() throws {
        let encoder = MessagePackEncoder()
        func check<T: Codable & Equatable>(_ value: T) throws {
            #expect(try decoder.decode(T.self, from: encoder.encode(value)) == value)
        }
        try check(Self.call)
        try check(Envelope.sample)
        try check([[1, 2], [], [3]])
        try check(["a": [1: [true, false]], "b": [:]])
        try check([Int8.min, 0, Int8.max])
        try check([UInt16.max, 0])
        try check([Float.pi, -Float.infinity])
        try check(["x": Optional<Int>.none, "y": 3])
        try check([Date(timeIntervalSince1970: 0.25), Date(timeIntervalSince1970: -123.5)])
        try check(Data(repeating: 7, count: 70_000))
        try check(String(repeating: "é", count: 40_000))
        try check([String: Double]())
    }

    @Test func zeroCopyDecodeFromRawMemoryAndData() throws {
        let bytes = try MessagePackEncoder().encode(Self.call)
        let fromRaw = try bytes.withUnsafeBytes { try decoder.decode(Call.self, from: $0) }
        #expect(fromRaw == Self.call)
        #expect(try decoder.decode(Call.self, from: Data(bytes)) == Self.call)
    }

    // MARK: Bad input

    @Test func truncatedInputNamesTheField() throws {
        let bytes = try MessagePackEncoder().encode(Self.call)
        let cut = try #require(failure(Call.self, Array(bytes.prefix(bytes.count - 2))))
        #expect(cut.path.first == "inner")
        #expect(failure(Int.self, [])?.code == .truncated)
        #expect(failure(UInt32.self, Hex.bytes("ce0001"))?.code == .truncated)
    }

    @Test func trailingBytesAreRejected() throws {
        #expect(failure(Int.self, Hex.bytes("0101"))?.code == .trailingBytes)
        var bytes = try MessagePackEncoder().encode(Self.call)
        bytes.append(0xc0)
        #expect(failure(Call.self, bytes)?.code == .trailingBytes)
        // Entries after the last one read are still stepped over and checked.
        struct A: Decodable, Equatable { var a: Int }
        #expect(try decode(A.self, "82a16101a16202") == A(a: 1))
        #expect(failure(A.self, Hex.bytes("82a16101a16202c0"))?.code == .trailingBytes)
        #expect(failure(A.self, Hex.bytes("82a16101a162a3"))?.code == .lengthExceedsInput)
        #expect(failure(A.self, Hex.bytes("81a16101c0"))?.code == .trailingBytes)
        // A 16-bit map header, not a fixmap.
        #expect(try decode(A.self, "de0001a16101") == A(a: 1))
        #expect(failure(A.self, Hex.bytes("de0001a16101c0"))?.code == .trailingBytes)
    }

    @Test func wrongTypesAreTypeMismatchWithPath() throws {
        // {"id": "x"}
        struct Holder: Decodable { var id: UInt8 }
        let result = try #require(failure(Holder.self, Hex.bytes("81a26964a178")))
        #expect(result.path == ["id"])
        guard case .typeMismatch = result.error else { Issue.record("\(result.error)"); return }
        let nilValue = try #require(failure(String.self, Hex.bytes("c0")))
        guard case .valueNotFound = nilValue.error else { Issue.record("\(nilValue.error)"); return }
    }

    @Test func lengthLargerThanInputIsRejectedBeforeAllocating() throws {
        #expect(failure(String.self, Hex.bytes("dbffffffff61"))?.code == .lengthExceedsInput)
        #expect(failure([UInt8].self, Hex.bytes("c6ffffffff00"))?.code == .lengthExceedsInput)
        #expect(failure([Int].self, Hex.bytes("ddffffffff01"))?.code == .lengthExceedsInput)
        #expect(failure([String: Int].self, Hex.bytes("dfffffffff01"))?.code == .lengthExceedsInput)
        struct Holder: Decodable { var list: [Int] }
        let nested = try #require(failure(Holder.self, Hex.bytes("81a46c697374dd7fffffff")))
        #expect(nested.path == ["list"])
        #expect(nested.code == .lengthExceedsInput)
    }

    @Test func nestingDeeperThanMaxDepthIsRejected() throws {
        var shallow = MessagePackDecoder()
        shallow.maxDepth = 3
        #expect(try shallow.decode([[[Int]]].self, from: Hex.bytes("91919101")) == [[[1]]])
        let deep = try #require(failure([[[[Int]]]].self, Hex.bytes("9191919101"), decoder: shallow))
        #expect(deep.code == .tooDeep)
        #expect(deep.path == ["Index 0", "Index 0", "Index 0"])
        // A bomb inside a field nobody reads is caught too (default depth 512).
        struct Shallow: Decodable {
            init(from decoder: any Decoder) throws { _ = try decoder.unkeyedContainer() }
        }
        let bomb = [UInt8](repeating: 0x91, count: 600) + [0x01]
        #expect(failure(Shallow.self, bomb)?.code == .tooDeep)
    }

    @Test func invalidUTF8IsRejected() throws {
        // Truncated sequences, surrogates, overlong forms (2, 3 and 4 bytes),
        // code points past U+10FFFF, bytes that never occur, a lone
        // continuation, and a bad byte after an 8-byte ASCII run.
        for hex in ["a2c328", "a3eda080", "a2c0af", "a1ff", "a2e282", "a3e080af", "a4f08082af", "a4f4908080",
                    "a4f5808080", "a180", "a3f09f8c", "aa616263646566676861ff", "a9616263646566676880"] {
            #expect(failure(String.self, Hex.bytes(hex))?.code == .invalidUTF8, "\(hex)")
        }
        struct Named: Decodable { var name: String }
        #expect(failure(Named.self, Hex.bytes("81a46e616d65a1ff"))?.path == ["name"])
        #expect(try decode(String.self, "a4f09f8c8d") == "\u{1F30D}")
        #expect(try decode(String.self, "ad6162636465666768c3a9e282ac") == "abcdefgh\u{e9}\u{20ac}")
        #expect(try decode(String.self, "a4f48fbfbf") == "\u{10FFFF}")
        // One bad byte at every position of ASCII strings up to 40 bytes
        // (the ASCII check's 16-, 8-, 4-, 2- and 1-byte steps).
        for length in 1...40 {
            let ascii = [UInt8](repeating: 0x61, count: length)
            let header: [UInt8] = length < 32 ? [0xa0 | UInt8(length)] : [0xd9, UInt8(length)]
            #expect(try MessagePackDecoder().decode(String.self, from: header + ascii) == String(repeating: "a", count: length))
            for position in 0..<length {
                var bytes = ascii
                bytes[position] = 0xff
                #expect(failure(String.self, header + bytes)?.code == .invalidUTF8, "\(length) \(position)")
            }
        }
    }

    @Test func reservedByteIsRejected() throws {
        #expect(failure(Int.self, [0xc1])?.code == .reservedByte)
        struct Point: Decodable { var x: Int }
        #expect(failure(Point.self, Hex.bytes("81a178c1"))?.code == .reservedByte)
        #expect(failure(Point.self, Hex.bytes("82a17801a179c1"))?.code == .reservedByte)
    }

    @Test func badTimestampsAreRejected() throws {
        #expect(failure(Date.self, Hex.bytes("d4ff00"))?.code == .invalidTimestamp)
        #expect(failure(Date.self, Hex.bytes("c705ff0000000000"))?.code == .invalidTimestamp)
        #expect(failure(Date.self, Hex.bytes("d6fe00000000"))?.code == .invalidTimestamp)
        // nanoseconds 1e9 in a timestamp 64
        #expect(failure(Date.self, Hex.bytes("d7ffee6b280000000000"))?.code == .invalidTimestamp)
        #expect(try decode(Date.self, "d6ff00000010") == Date(timeIntervalSince1970: 16))
    }

    struct Probe: Decodable {
        static let key = CodingUserInfoKey(rawValue: "probe")!
        let seen: String
        init(from decoder: any Decoder) throws {
            seen = decoder.userInfo[Self.key] as? String ?? "none"
            _ = try decoder.singleValueContainer().decodeNil()
        }
    }

    @Test func userInfoReachesInitFrom() throws {
        var decoder = MessagePackDecoder()
        decoder.userInfo[Probe.key] = "yes"
        #expect(try decoder.decode(Probe.self, from: [0xc0]).seen == "yes")
        #expect(decoder.maxDepth == 512)
    }

    @Test func unkeyedContainerReportsEndAndCount() throws {
        struct Pair: Decodable {
            var values: [Int] = []
            init(from decoder: any Decoder) throws {
                var container = try decoder.unkeyedContainer()
                #expect(container.count == 2)
                while !container.isAtEnd { values.append(try container.decode(Int.self)) }
                #expect(throws: DecodingError.self) { try container.decode(Int.self) }
            }
        }
        #expect(try decode(Pair.self, "920102").values == [1, 2])
    }

    /// Coding paths are built from a node table on demand; these shapes
    /// reach every way a node is made: nested values, arrays, dictionaries,
    /// nested containers opened before a sibling value is decoded, and the
    /// `codingPath` that `init(from:)` and containers report.
    @Test func codingPathsOfNestedErrorsAndContainers() throws {
        struct Leaf: Decodable { var n: UInt8 }
        struct Tree: Decodable { var items: [String: [Leaf]] }
        // {"items": {"k": [{"n": 1}, {"n": "x"}]}}
        let bad = try #require(failure(Tree.self, Hex.bytes("81a56974656d7381a16b9281a16e0181a16ea178")))
        #expect(bad.path == ["items", "k", "Index 1", "n"])

        struct Seen: Decodable {
            static let paths = Mutex<[[String]]>([])
            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: MessagePackCodingKey.self)
                Self.paths.withLock { $0.append(decoder.codingPath.map(\.stringValue)) }
                Self.paths.withLock { $0.append(container.codingPath.map(\.stringValue)) }
            }
        }
        struct Interleaved: Decodable {
            var error: [String] = []
            init(from decoder: any Decoder) throws {
                let top = try decoder.container(keyedBy: MessagePackCodingKey.self)
                // A nested container opened first, a sibling value decoded
                // through its own init(from:), then the first container used.
                let a = try top.nestedContainer(keyedBy: MessagePackCodingKey.self, forKey: .init(stringValue: "a"))
                _ = try top.decode(Seen.self, forKey: .init(stringValue: "b"))
                var list = try top.nestedUnkeyedContainer(forKey: .init(stringValue: "c"))
                _ = try list.decode(Seen.self)
                #expect(a.codingPath.map(\.stringValue) == ["a"])
                do {
                    _ = try a.decode(String.self, forKey: .init(stringValue: "x"))
                } catch let DecodingError.typeMismatch(_, context) {
                    error = context.codingPath.map(\.stringValue)
                }
            }
        }
        Seen.paths.withLock { $0 = [] }
        // {"a": {"x": 1}, "b": {}, "c": [{}]}
        let value = try decode(Interleaved.self, "83a16181a17801a16280a16391 80")
        #expect(value.error == ["a", "x"])
        #expect(Seen.paths.withLock { $0 } == [["b"], ["b"], ["c", "Index 0"], ["c", "Index 0"]])
    }

    /// A container kept by a misbehaving `init(from:)` and used after the
    /// call throws (the input is gone) with a path, and never traps.
    @Test func containerKeptAfterTheCallThrows() throws {
        final class Keeper: Decodable, @unchecked Sendable {
            var kept: KeyedDecodingContainer<MessagePackCodingKey>?
            init(from decoder: any Decoder) throws {
                let top = try decoder.container(keyedBy: MessagePackCodingKey.self)
                kept = try top.nestedContainer(keyedBy: MessagePackCodingKey.self, forKey: .init(stringValue: "a"))
            }
        }
        let keeper = try decode(Keeper.self, "81a16181a17801")
        let kept = try #require(keeper.kept)
        #expect(throws: DecodingError.self) { try kept.decode(Int.self, forKey: .init(stringValue: "x")) }
        _ = kept.codingPath
        // The next call (which may reuse the session) is unaffected.
        #expect(try decode([String: Int].self, "81a17802") == ["x": 2])
        #expect(throws: DecodingError.self) { try kept.decode(Int.self, forKey: .init(stringValue: "x")) }
    }

    /// Lookups in order start from where the previous value's reader ended
    /// (not by stepping over it again), and the top-level end check uses the
    /// last value's end: both must agree with the input exactly.
    @Test func inOrderReadsUseTheEndOfThePreviousValue() throws {
        struct Mixed: Codable, Equatable {
            var a: Data; var b: [String: String]; var c: [UInt8]; var d: Double; var e: [Int]; var f: [String: String]
        }
        let value = Mixed(a: Data([1, 2, 3]), b: ["k": "v"], c: [9], d: 1.5, e: [1, 2], f: ["x": "y", "z": "w"])
        var bytes = try MessagePackEncoder().encode(value)
        #expect(try decoder.decode(Mixed.self, from: bytes) == value)
        #expect(try decoder.decode([Data].self, from: MessagePackEncoder().encode([Data([1]), Data([2, 3])])) == [Data([1]), Data([2, 3])])
        bytes.append(0xc0)
        #expect(failure(Mixed.self, bytes)?.code == .trailingBytes)
        bytes.removeLast(2)
        #expect(failure(Mixed.self, bytes)?.path.first == "f")
    }
}
