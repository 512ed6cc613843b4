#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Decodes `Decodable` values from MessagePack, reading the input in place.
///
/// The decoder is a cursor over the caller's bytes written in Swift, not
/// msgpack-c's unpacker, on purpose: `msgpack_unpack_next` limits nesting with
/// `MSGPACK_EMBED_STACK_SIZE`, a compile-time constant (32) baked into the
/// distribution's library where we need a configurable ``maxDepth``, and it
/// allocates `n * sizeof(msgpack_object)` from its zone for an array or map
/// header before checking that `n` elements can exist in the input, so a
/// 5-byte message can make it allocate gigabytes. This cursor checks every
/// length and element count against the bytes that remain before allocating
/// anything, counts depth, and shares the format constants with the encoder
/// (`MessagePackFormat`).
///
/// Bad input never traps: truncation, trailing bytes, wrong types, lengths
/// beyond the input, nesting deeper than ``maxDepth``, invalid UTF-8, the
/// reserved byte 0xc1, bad timestamps and integers out of range all throw a
/// `DecodingError` whose coding path names the field, with a
/// ``MessagePackError`` as its underlying error.
///
/// Conversions it accepts:
/// - any integer format into any integer type whose range holds the value;
/// - float64 and float32 into `Double`; float32, and float64 within Float's
///   range (rounded), into `Float`; an integer into `Double`/`Float` when
///   exactly representable (some producers send 1.0 as 1). Floats never
///   decode into integer types;
/// - `bin` into `Data` and `[UInt8]`, and also an array of integers 0...255
///   (some producers send bytes that way);
/// - the timestamp extension (type -1; 32, 64 or 96 bit) into `Date`;
/// - integer keys (or numeric string keys) into `[Int: V]` and the other
///   fixed-width integer keys; string keys into `[String: V]`;
/// - a missing key is `keyNotFound`; unknown keys are ignored.
///
/// ```swift
/// struct Call: Codable { var id: UInt64; var method: String }
/// let call = try MessagePackDecoder().decode(Call.self, from: bytes)
/// // Zero-copy, e.g. from a ZeroMQ frame:
/// let same = try frame.withUnsafeBytes { try MessagePackDecoder().decode(Call.self, from: $0) }
/// ```
public struct MessagePackDecoder: Sendable {
    /// Values handed to every `init(from:)` as `Decoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable]
    /// How deeply maps and arrays may nest (the top-level container is depth 1).
    /// It also bounds the decoder's recursion, so keep it moderate. Default 512.
    public var maxDepth: Int
    /// The session of the last call, reused by the next one (see
    /// `MessagePackCoderCache`). One per process rather than per coder, so
    /// that making a coder allocates nothing and a coder used once still
    /// finds a session ready.
    private static let cache = MessagePackCoderCache<MessagePackDecodingSession>()

    /// Creates a decoder with empty `userInfo` and `maxDepth` 512.
    public init() {
        self.userInfo = [:]
        self.maxDepth = 512
    }

    /// Decodes a value of `type` from `bytes`, which must hold exactly one MessagePack value.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBytes { try decode(type, from: $0) }
    }

    /// Decodes a value of `type` from `data`, which must hold exactly one MessagePack value.
    public func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try data.withUnsafeBytes { try decode(type, from: $0) }
    }

    /// Decodes a value of `type` straight from memory the caller owns (for
    /// example a ZeroMQ frame), without copying it. The memory is only read
    /// during the call.
    public func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            throw MessagePackReadError.truncated(at: 0).decodingError(path: [])
        }
        // Strings and bytes as a whole value are read without a session (see `MessagePackTopLevel`).
        if T.self == [UInt8].self, let body = MessagePackTopLevel.binBody(bytes) {
            return unsafeBitCast([UInt8](body), to: T.self)
        }
        if T.self == String.self, let string = MessagePackTopLevel.string(bytes) {
            return unsafeBitCast(string, to: T.self)
        }
        if T.self == Data.self, let body = MessagePackTopLevel.binBody(bytes) {
            return unsafeBitCast(Data(body), to: T.self)
        }
        var session: MessagePackDecodingSession
        if let spare = Self.cache.take() {
            spare.reset(base: base, count: bytes.count, maxDepth: maxDepth, userInfo: userInfo)
            session = spare
        } else {
            session = MessagePackDecodingSession(base: base, count: bytes.count, maxDepth: maxDepth, userInfo: userInfo)
        }
        defer {
            session.finish()
            // Only a session nobody else holds (no Decoder kept by an
            // `init(from:)`) may serve another call.
            if isKnownUniquelyReferenced(&session) { Self.cache.put(session) }
        }
        let value = try session.decodeValue(type, at: 0, level: 0, parent: -1, key: { nil })
        // Keyed containers read only the keys they are asked for, so the
        // top-level value's end is found by stepping over what was not read;
        // this also validates parts of the input that no field read.
        do throws(MessagePackReadError) {
            let end = try session.endOfTopLevelValue()
            if end != bytes.count { throw .trailingBytes(at: end, total: bytes.count) }
        } catch {
            throw error.decodingError(path: [])
        }
        return value
    }
}
