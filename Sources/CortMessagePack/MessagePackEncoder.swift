internal import CMessagePack

/// Encodes `Encodable` values as MessagePack.
///
/// The encoder streams straight into one growing byte buffer through
/// msgpack-c's packer: containers get a one-byte placeholder header that is
/// patched (and widened when needed) once the container is complete, so no
/// intermediate tree is built and no field allocates.
///
/// Mapping:
/// - integers use the smallest format; non-negative signed values use the
///   `uint` family, as msgpack-c and Python's `msgpack` do;
/// - `Float` is float32, `Double` is float64;
/// - `Data` and `[UInt8]` are `bin`; `Date` is the timestamp extension (type -1),
///   in the smallest of timestamp 32/64/96 the spec allows;
/// - keyed containers are maps with string keys; `[Int: V]` (any fixed-width
///   integer key) is a map with integer keys, and `[String: V]` always has
///   string keys, even for a key like `"1"`;
/// - `superEncoder()` writes under the key `"super"`, as Foundation does.
///
/// Containers must be used in nesting order (finish a nested container before
/// writing to its parent again), which synthesized `Codable` code always does;
/// an `encode(to:)` that does otherwise gets an `EncodingError`, never a trap.
///
/// ```swift
/// struct Call: Codable { var id: UInt64; var method: String }
/// let encoder = MessagePackEncoder()
/// let bytes = try encoder.encode(Call(id: 7, method: "hello"))
/// // [0x82, 0xa2, 0x69, 0x64, 0x07, 0xa6, 0x6d, 0x65, 0x74, 0x68, 0x6f, 0x64, 0xa5, ...]
/// var frame: [UInt8] = []
/// frame.reserveCapacity(256)
/// try encoder.encode(Call(id: 8, method: "bye"), into: &frame) // appends, reusing capacity
/// ```
public struct MessagePackEncoder: Sendable {
    /// Values handed to every `encode(to:)` as `Encoder.userInfo`.
    public var userInfo: [CodingUserInfoKey: any Sendable]
    /// The stream of the last call, reused by the next one (see
    /// `MessagePackCoderCache`). One per process rather than per coder, so
    /// that making a coder allocates nothing and a coder used once still
    /// finds a stream ready.
    private static let cache = MessagePackCoderCache<MessagePackEncodingStream>()

    /// Creates an encoder with empty `userInfo`.
    public init() {
        self.userInfo = [:]
    }

    /// Returns the MessagePack encoding of `value`.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        if let encoded = MessagePackTopLevel.encoded(value) { return encoded }
        var bytes: [UInt8] = []
        try encodeThroughStream(value, into: &bytes)
        return bytes
    }

    /// Appends the encoding of `value` to `buffer` (reuses its capacity).
    ///
    /// When encoding throws, `buffer` is left as it was.
    public func encode<T: Encodable>(_ value: T, into buffer: inout [UInt8]) throws {
        if let encoded = MessagePackTopLevel.encoded(value) {
            if buffer.isEmpty { buffer = encoded } else { buffer.append(contentsOf: encoded) }
            return
        }
        try encodeThroughStream(value, into: &buffer)
    }

    /// `encode(_:into:)` for a value that is not a whole string or bytes (see `MessagePackTopLevel`).
    private func encodeThroughStream<T: Encodable>(_ value: T, into buffer: inout [UInt8]) throws {
        var stream: MessagePackEncodingStream
        if let spare = Self.cache.take() {
            spare.reset(userInfo: userInfo)
            stream = spare
        } else {
            stream = MessagePackEncodingStream(userInfo: userInfo)
        }
        defer {
            // Only a stream nobody else holds (no Encoder kept by an
            // `encode(to:)`) may serve another call.
            if stream.isWorthKeeping, isKnownUniquelyReferenced(&stream) { Self.cache.put(stream) }
        }
        try stream.encodeTopLevel(value)
        let writer = stream.writer
        if let misuse = stream.misuse {
            throw EncodingError.invalidValue(value, EncodingError.Context(
                codingPath: [],
                debugDescription: "MessagePackEncoder: \(misuse); containers must be used in nesting order",
                underlyingError: MessagePackError(code: .invalidValue, message: misuse)))
        }
        if writer.pointee.failed != 0 {
            throw EncodingError.invalidValue(value, EncodingError.Context(
                codingPath: [],
                debugDescription: "The encoder's buffer could not grow",
                underlyingError: MessagePackError(code: .outOfMemory, message: "The encoder's buffer could not grow")))
        }
        buffer.append(contentsOf: UnsafeRawBufferPointer(start: writer.pointee.data, count: writer.pointee.size))
    }
}
