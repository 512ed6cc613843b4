internal import CZeroMQ

/// A CURVE (Curve25519) key: 32 bytes, usually written as 40 characters of Z85.
///
/// ```swift
/// let serverKey = try CurveKey(z85: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")
/// try client.set(.curveServerKey, serverKey)
/// ```
///
/// Its `description` does not show the key, so secret keys do not end up in logs.
public struct CurveKey: Sendable, Hashable, CustomStringConvertible {
    /// The 32 raw key bytes.
    public let rawBytes: [UInt8]

    /// A key from its 40-character Z85 text.
    /// - Throws: ``ZeroMQError/Code/invalidKey`` if `z85` is not 40 valid Z85 characters.
    public init(z85: String) throws {
        let text = Array(z85.utf8)
        guard text.count == 40 else {
            throw ZeroMQError(.invalidKey, "a Z85 CURVE key has 40 characters, got \(text.count)")
        }
        var raw = [UInt8](repeating: 0, count: 32)
        let decoded = (text + [0]).withUnsafeBufferPointer { source in
            raw.withUnsafeMutableBufferPointer { target in
                zmq_z85_decode(target.baseAddress, source.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) })
            }
        }
        guard decoded != nil else {
            throw ZeroMQError(.invalidKey, "the CURVE key is not valid Z85 text")
        }
        rawBytes = raw
    }

    /// A key from its 32 raw bytes.
    /// - Throws: ``ZeroMQError/Code/invalidKey`` unless `rawBytes` has 32 bytes.
    public init(rawBytes: [UInt8]) throws {
        try self.init(validatedRaw: rawBytes)
    }

    init(validatedRaw bytes: [UInt8]) throws(ZeroMQError) {
        guard bytes.count == 32 else {
            throw ZeroMQError(.invalidKey, "a raw CURVE key has 32 bytes, got \(bytes.count)")
        }
        rawBytes = bytes
    }

    /// The key as 40 characters of Z85.
    public var z85: String {
        var text = [CChar](repeating: 0, count: 41)
        _ = rawBytes.withUnsafeBufferPointer { zmq_z85_encode(&text, $0.baseAddress, 32) }
        return String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// `CurveKey(40 chars Z85)`, without the key itself.
    public var description: String { "CurveKey(32 bytes)" }
}
