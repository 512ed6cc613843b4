import Foundation
import Testing
@testable import CortMessagePack

/// Strings and bytes as a whole value skip the coders (`MessagePackTopLevel`):
/// they must encode to the bytes the coders write and decode, or fail, as the
/// coders do. The coders' own path is reached by putting the same value in a
/// one-element array (header 0x91).
struct MessagePackTopLevelTests {
    static let lengths = [0, 1, 31, 32, 255, 256, 65_535, 65_536]

    /// `value` encoded through the coder: as the element of a one-element array.
    static func throughCoder<T: Encodable>(_ value: T) throws -> [UInt8] {
        let wrapped = try MessagePackEncoder().encode([value])
        #expect(wrapped.first == 0x91)
        return Array(wrapped.dropFirst())
    }

    /// `bytes` decoded as `T` through the coder's session.
    static func decodedThroughCoder<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) throws -> T {
        let values = try MessagePackDecoder().decode([T].self, from: [0x91] + bytes)
        return values[0]
    }

    @Test(arguments: lengths)
    func bytesAndStringsEncodeAsTheCoderWritesThem(length: Int) throws {
        let encoder = MessagePackEncoder()
        let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(try encoder.encode(bytes) == (try Self.throughCoder(bytes)))
        #expect(try encoder.encode(Data(bytes)) == (try Self.throughCoder(Data(bytes))))
        let ascii = String(repeating: "a", count: length)
        #expect(try encoder.encode(ascii) == (try Self.throughCoder(ascii)))
        // Multi-byte characters: the header counts bytes, not characters.
        let accented = String(repeating: "é", count: length / 2)
        #expect(try encoder.encode(accented) == (try Self.throughCoder(accented)))
        // Appended after what the buffer holds, like any other value.
        var buffer: [UInt8] = [0xff]
        try encoder.encode(bytes, into: &buffer)
        #expect(buffer == [0xff] + (try Self.throughCoder(bytes)))
    }

    @Test(arguments: lengths)
    func bytesAndStringsDecodeAsTheCoderReadsThem(length: Int) throws {
        let decoder = MessagePackDecoder()
        let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let binary = try MessagePackEncoder().encode(bytes)
        #expect(try decoder.decode([UInt8].self, from: binary) == bytes)
        #expect(try decoder.decode(Data.self, from: binary) == Data(bytes))
        #expect(try Self.decodedThroughCoder([UInt8].self, binary) == bytes)
        let text = String(repeating: "ü", count: length / 2)
        let string = try MessagePackEncoder().encode(text)
        #expect(try decoder.decode(String.self, from: string) == text)
        #expect(try Self.decodedThroughCoder(String.self, string) == text)
    }

    @Test func otherFormsOfBytesStillDecode() throws {
        // An array of integers 0...255 is bytes to the decoder too (the coder reads it).
        let decoder = MessagePackDecoder()
        #expect(try decoder.decode([UInt8].self, from: Hex.bytes("93 01 02 cc ff")) == [1, 2, 255])
        #expect(try decoder.decode(Data.self, from: Hex.bytes("92 00 07")) == Data([0, 7]))
        // A str8 of a short string (producers that do not use fixstr).
        #expect(try decoder.decode(String.self, from: Hex.bytes("d9 02 6f 6b")) == "ok")
    }

    @Test func badInputFailsAsItDoesThroughTheCoder() throws {
        let decoder = MessagePackDecoder()
        let cases: [(String, [UInt8])] = [
            ("trailing bytes", Hex.bytes("c4 01 aa bb")),
            ("a body shorter than its length", Hex.bytes("c4 05 aa")),
            ("a length cut short", Hex.bytes("c5 00")),
            ("another type", Hex.bytes("a3 616263")),
            ("nothing", []),
        ]
        for (name, input) in cases {
            #expect(throws: DecodingError.self, "\(name)") { try decoder.decode([UInt8].self, from: input) }
            #expect(throws: DecodingError.self, "\(name)") { try decoder.decode(Data.self, from: input) }
        }
        let strings: [(String, [UInt8])] = [
            ("invalid UTF-8", Hex.bytes("a2 c3 28")),
            ("a lone surrogate", Hex.bytes("a3 ed a0 80")),
            ("trailing bytes", Hex.bytes("a1 61 62")),
            ("bytes, not a string", Hex.bytes("c4 01 61")),
        ]
        for (name, input) in strings {
            #expect(throws: DecodingError.self, "\(name)") { try decoder.decode(String.self, from: input) }
            #expect(throws: DecodingError.self, "\(name), through the coder") {
                try Self.decodedThroughCoder(String.self, input)
            }
        }
        // The coder names the trailing bytes, as before.
        let trailing = #expect(throws: DecodingError.self) { try decoder.decode([UInt8].self, from: Hex.bytes("c4 01 aa bb")) }
        #expect(trailing.map { "\($0)" }?.contains("trailing") == true, "\(String(describing: trailing))")
    }
}
