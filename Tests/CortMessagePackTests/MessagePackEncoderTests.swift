import Foundation
import Testing
@testable import CortMessagePack

struct MessagePackEncoderTests {
    let encoder = MessagePackEncoder()

    func hex<T: Encodable>(_ value: T) throws -> String { Hex.string(try encoder.encode(value)) }

    @Test func integersUseTheSmallestFormat() throws {
        #expect(try hex(127 as Int) == "7f")
        #expect(try hex(128 as Int) == "cc80")
        #expect(try hex(255 as Int) == "ccff")
        #expect(try hex(256 as Int) == "cd0100")
        #expect(try hex(-32 as Int) == "e0")
        #expect(try hex(-33 as Int) == "d0df")
        #expect(try hex(Int64.min) == "d38000000000000000")
        #expect(try hex(UInt64.max) == "cfffffffffffffffff")
        #expect(try hex(Int8.max) == "7f")
        #expect(try hex(Int16(-129)) == "d1ff7f")
        #expect(try hex(UInt32(65536)) == "ce00010000")
    }

    @Test func positiveSignedIntegersUseTheUnsignedFamily() throws {
        #expect(try hex(Int8(100)) == "64")
        #expect(try hex(Int32(40000)) == "cd9c40")
        #expect(try hex(Int64(1) << 40) == "cf0000010000000000")
    }

    @Test func floatsAndBools() throws {
        #expect(try hex(1.5 as Float) == "ca3fc00000")
        #expect(try hex(1.5 as Double) == "cb3ff8000000000000")
        #expect(try hex(true) == "c3")
        #expect(try hex(false) == "c2")
        #expect(try hex(Int?.none) == "c0")
    }

    @Test func bytesAreBinAndDatesAreTimestamps() throws {
        #expect(try hex([1, 2] as [UInt8]) == "c4020102")
        #expect(try hex(Data([0xff])) == "c401ff")
        #expect(try hex(Date(timeIntervalSince1970: 1)) == "d6ff00000001")
        #expect(try hex(Date(timeIntervalSince1970: 1.5)) == "d7ff7735940000000001")
        #expect(try hex(Date(timeIntervalSince1970: -1)) == "c70cff00000000ffffffffffffffff")
    }

    @Test func nonFiniteDateIsAnEncodingError() {
        #expect(throws: EncodingError.self) { try encoder.encode(Date(timeIntervalSince1970: .infinity)) }
    }

    @Test func intKeyedDictionaryHasIntegerKeysAndStringKeyedStaysString() throws {
        #expect(try hex([1: "a"]) == "8101a161")
        #expect(try hex(["1": "a"]) == "81a131a161")
        #expect(try hex([UInt8(200): true]) == "81ccc8c3")
        #expect(try hex(["k": [1: 2]]) == "81a16b810102")
    }

    struct Point: Codable, Equatable { var x: Int; var y: Int }

    @Test func structsAreMapsInDeclarationOrder() throws {
        #expect(try hex(Point(x: 1, y: 2)) == "82a17801a17902")
    }

    struct Wide: Codable, Equatable {
        var a = 0, b = 1, c = 2, d = 3, e = 4, f = 5, g = 6, h = 7
        var i = 8, j = 9, k = 10, l = 11, m = 12, n = 13, o = 14, p = 15, q = 16
    }

    @Test func containersLargerThan15GetA16BitHeader() throws {
        let bytes = try encoder.encode(Wide())
        #expect(Array(bytes.prefix(3)) == [0xde, 0x00, 0x11])
        #expect(try MessagePackDecoder().decode(Wide.self, from: bytes) == Wide())
        let array = try encoder.encode(Array(0..<16))
        #expect(Array(array.prefix(3)) == [0xdc, 0x00, 0x10])
        let nested = try encoder.encode([Array(0..<20), Array(0..<3)])
        #expect(try MessagePackDecoder().decode([[Int]].self, from: nested) == [Array(0..<20), Array(0..<3)])
    }

    @Test func appendsIntoAnExistingBufferKeepingItsContents() throws {
        var buffer: [UInt8] = [0xaa]
        buffer.reserveCapacity(256)
        try encoder.encode(Point(x: 1, y: 2), into: &buffer)
        #expect(Hex.string(buffer) == "aa82a17801a17902")
    }

    @Test func stringsUseFixstrUpTo31BytesAndStr8From32() throws {
        #expect(try hex("") == "a0")
        #expect(try hex(String(repeating: "a", count: 31)) == "bf" + String(repeating: "61", count: 31))
        #expect(try hex(String(repeating: "a", count: 32)) == "d920" + String(repeating: "61", count: 32))
        #expect(try hex("\u{e9}") == "a2c3a9")
        #expect(try hex(String(repeating: "a", count: 255)).hasPrefix("d9ff61"))
        #expect(try hex(String(repeating: "a", count: 256)).hasPrefix("da010061"))
        #expect(try hex(Data()) == "c400")
        #expect(try hex(Data(repeating: 7, count: 255)).hasPrefix("c4ff07"))
        #expect(try hex(Data(repeating: 7, count: 256)).hasPrefix("c5010007"))
        // str8 and bin8 values across the end of the stream's first buffer.
        struct Mixed: Codable, Equatable { var text: String; var bytes: Data }
        for length in stride(from: 100, through: 260, by: 7) {
            let values = (0..<6).map { _ in Mixed(text: String(repeating: "t", count: length), bytes: Data(repeating: UInt8(length & 0xff), count: length)) }
            #expect(try MessagePackDecoder().decode([Mixed].self, from: try encoder.encode(values)) == values)
        }
        // Strings of every length up to 40 bytes, so that a fixstr lands
        // exactly at, just before and just past the end of the stream's
        // first buffer, and the buffer grows mid-sequence.
        var strings: [String] = []
        for round in 0..<40 {
            for length in 0...40 { strings.append(String(repeating: Character(UnicodeScalar(UInt8(97 + round % 26))), count: length)) }
        }
        #expect(try MessagePackDecoder().decode([String].self, from: try encoder.encode(strings)) == strings)
        struct Keyed: Codable, Equatable { var padding: [String]; var name: String }
        for padding in 0..<40 {
            let value = Keyed(padding: Array(repeating: String(repeating: "p", count: 12), count: padding), name: "n")
            #expect(try MessagePackDecoder().decode(Keyed.self, from: try encoder.encode(value)) == value)
        }
    }

    @Test func largeValuesGrowTheBuffer() throws {
        let big = (0..<10_000).map { "item \($0)" }
        let bytes = try encoder.encode(big)
        #expect(try MessagePackDecoder().decode([String].self, from: bytes) == big)
    }

    struct Empty: Codable, Equatable {}

    @Test func emptyStructIsAnEmptyMap() throws {
        #expect(try hex(Empty()) == "80")
        #expect(try hex([Empty()]) == "9180")
    }

    class Animal: Codable {
        var name: String
        init(name: String) { self.name = name }
    }

    final class Dog: Animal, @unchecked Sendable {
        var good: Bool
        init(name: String, good: Bool) { self.good = good; super.init(name: name) }
        enum CodingKeys: String, CodingKey { case good }
        required init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            good = try container.decode(Bool.self, forKey: .good)
            try super.init(from: container.superDecoder())
        }
        override func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(good, forKey: .good)
            try super.encode(to: container.superEncoder())
        }
    }

    @Test func superEncoderWritesUnderSuperKey() throws {
        let bytes = try encoder.encode(Dog(name: "Rex", good: true))
        #expect(Hex.string(bytes) == "82a4676f6f64c3a57375706572" + "81a46e616d65a3526578")
        let dog = try MessagePackDecoder().decode(Dog.self, from: bytes)
        #expect(dog.name == "Rex" && dog.good)
    }

    final class SameEncoderDog: Animal, @unchecked Sendable {
        var age = 3
        enum CodingKeys: String, CodingKey { case age }
        override func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(age, forKey: .age)
            try super.encode(to: encoder)
        }
    }

    @Test func subclassSharingItsEncoderWritesOneMap() throws {
        #expect(try hex(SameEncoderDog(name: "A")) == "82a3616765" + "03a46e616d65a141")
    }

    enum Shape: Codable, Equatable {
        case circle(radius: Double)
        case rect(Double, Double)
        case empty
    }

    @Test func enumsWithAssociatedValuesRoundTrip() throws {
        for shape in [Shape.circle(radius: 2), .rect(1, 2), .empty] {
            #expect(try MessagePackDecoder().decode(Shape.self, from: encoder.encode(shape)) == shape)
        }
        #expect(try hex(Shape.empty) == "81a5656d70747980")
    }

    struct Reader: Encodable {
        static let key = CodingUserInfoKey(rawValue: "mode")!
        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(encoder.userInfo[Self.key] as? String ?? "none")
        }
    }

    @Test func userInfoReachesEncodeTo() throws {
        var encoder = MessagePackEncoder()
        encoder.userInfo[Reader.key] = "fast"
        #expect(Hex.string(try encoder.encode(Reader())) == "a466617374")
    }

    @Test func envelopeRoundTripsAndIsCompact() throws {
        let bytes = try encoder.encode(Envelope.sample)
        #expect(bytes.count < 200)
        #expect(try MessagePackDecoder().decode(Envelope.self, from: bytes) == Envelope.sample)
    }

    struct Manual: Encodable {
        func encode(to encoder: any Encoder) throws {
            var outer = encoder.unkeyedContainer()
            var inner = outer.nestedContainer(keyedBy: GoldenVectorTests.Fields.Key.self)
            try inner.encode(1, forKey: .init(stringValue: "a"))
            var list = inner.nestedUnkeyedContainer(forKey: .init(stringValue: "b"))
            try list.encode("x")
            try outer.encode(true)
            try outer.encodeNil()
        }
    }

    @Test func nestedContainersCloseWhenTheParentMovesOn() throws {
        #expect(try hex(Manual()) == "93" + "82a16101a16291a178" + "c3c0")
    }

    /// Writes into a nested container after its parent has moved on: legal
    /// Codable, impossible for a streaming encoder.
    struct OutOfOrder: Encodable {
        func encode(to encoder: any Encoder) throws {
            var outer = encoder.unkeyedContainer()
            var first = outer.nestedUnkeyedContainer()
            try outer.encode(1)
            try first.encode(2)
        }
    }

    /// Asks for a keyed and then an unkeyed container for one value.
    struct TwoShapes: Encodable {
        func encode(to encoder: any Encoder) throws {
            var keyed = encoder.container(keyedBy: GoldenVectorTests.Fields.Key.self)
            try keyed.encode(1, forKey: .init(stringValue: "a"))
            var unkeyed = encoder.unkeyedContainer()
            try unkeyed.encode(2)
        }
    }

    @Test func containersUsedOutOfOrderAreAnEncodingErrorNotATrap() {
        for value in [OutOfOrder() as any Encodable, TwoShapes()] {
            var buffer: [UInt8] = [0xAA]
            #expect(throws: EncodingError.self) { try MessagePackEncoder().encode(value, into: &buffer) }
            #expect(buffer == [0xAA])
        }
    }
}
