import Foundation
@testable import CortMessagePack

/// Hex helpers and shared fixtures for the CortMessagePack tests.
enum Hex {
    static func bytes(_ hex: String) -> [UInt8] {
        let digits = Array(hex.filter { !$0.isWhitespace }.utf8)
        var result: [UInt8] = []
        result.reserveCapacity(digits.count / 2)
        var index = 0
        while index + 1 < digits.count {
            result.append(UInt8(String(decoding: digits[index...index + 1], as: UTF8.self), radix: 16)!)
            index += 2
        }
        return result
    }

    static func string(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}

/// A call-envelope-like value, the codec's hot-path shape.
struct Envelope: Codable, Equatable {
    var callID: UInt64
    var target: String
    var method: String
    var deadlineNanos: Int64
    var arguments: [UInt8]
    var metadata: [String: String]
    var flags: UInt8

    static let sample = Envelope(
        callID: 123_456_789, target: "greeter", method: "hello(name:)",
        deadlineNanos: 1_723_000_000_123_456_789, arguments: Array(repeating: 0x5a, count: 40),
        metadata: ["trace-id": "4bf92f3577b34da6"], flags: 3)
}

/// Any MessagePack value, decoded by trying each shape in turn through the
/// public Codable surface.
indirect enum AnyMessagePack: Codable, Equatable {
    case none
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case bytes(Data)
    case date(Date)
    case array([AnyMessagePack])
    case map([String: AnyMessagePack])
    case intMap([Int64: AnyMessagePack])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .none; return }
        // Most likely shapes first: every failed attempt throws, and throwing
        // is what costs under a test runner that records backtraces.
        if let value = try? container.decode(String.self) { self = .string(value); return }
        if let value = try? container.decode(Int64.self) { self = .int(value); return }
        if let value = try? container.decode([String: AnyMessagePack].self) { self = .map(value); return }
        if let value = try? container.decode([AnyMessagePack].self) { self = .array(value); return }
        if let value = try? container.decode(Bool.self) { self = .bool(value); return }
        if let value = try? container.decode(Double.self) { self = .double(value); return }
        if let value = try? container.decode(UInt64.self) { self = .uint(value); return }
        if let value = try? container.decode(Data.self) { self = .bytes(value); return }
        if let value = try? container.decode(Date.self) { self = .date(value); return }
        self = .intMap(try container.decode([Int64: AnyMessagePack].self))
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .none: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .uint(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .bytes(let value): try container.encode(value)
        case .date(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .map(let value): try container.encode(value)
        case .intMap(let value): try container.encode(value)
        }
    }
}
