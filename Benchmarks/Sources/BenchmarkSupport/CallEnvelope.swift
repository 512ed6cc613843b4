import CortMessagePack
import Foundation

/// A value shaped like cort's call envelope: the codec benchmarks encode and
/// decode it with cort's MessagePack coders and with Foundation's JSON coders.
public struct CallEnvelope: Codable, Sendable, Equatable {
    public var version: UInt8
    public var kind: UInt8
    public var callID: UInt64
    public var target: String
    public var method: String
    public var deadlineNanoseconds: Int64
    public var arguments: Data
    public var metadata: [String: String]

    /// A representative call: a mangled target, a readable method name, a
    /// small argument payload and a W3C trace context, 150-200 bytes encoded.
    public static let sample = CallEnvelope(
        version: 1,
        kind: 1,
        callID: 0x1234_5678_9abc,
        target: "$s7Example7GreeterC5hello4nameS2S_tYaKFTE",
        method: "Greeter.hello(name:)",
        deadlineNanoseconds: 2_000_000_000,
        arguments: Data((0..<24).map { UInt8($0) }),
        metadata: ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"]
    )
}

/// The two codecs under comparison, each holding reusable coders as a real
/// caller would.
public struct CodecPair: Sendable {
    public let encoder = MessagePackEncoder()
    public let decoder = MessagePackDecoder()
    public let jsonEncoder = JSONEncoder()
    public let jsonDecoder = JSONDecoder()

    public init() {}

    /// One MessagePack encode and decode of `value`.
    @inline(never)
    public func messagePackRoundTrip(_ value: CallEnvelope, buffer: inout [UInt8]) throws -> CallEnvelope {
        buffer.removeAll(keepingCapacity: true)
        try encoder.encode(value, into: &buffer)
        return try decoder.decode(CallEnvelope.self, from: buffer)
    }

    /// One JSON encode and decode of `value`.
    @inline(never)
    public func jsonRoundTrip(_ value: CallEnvelope) throws -> CallEnvelope {
        let data = try jsonEncoder.encode(value)
        return try jsonDecoder.decode(CallEnvelope.self, from: data)
    }
}
