internal import CMessagePack

/// A dictionary key type that MessagePack writes as itself: `String` as a
/// `str` key, fixed-width integers as integer keys.
///
/// The standard library encodes every dictionary through a keyed container
/// whose `_DictionaryCodingKey` sets `intValue` for numeric strings too, so a
/// container cannot tell `[Int: V]` from `[String: V]` with key `"1"`. The
/// codec therefore looks at the dictionary's type (these conditional
/// conformances) and writes and reads such maps itself; that is also the
/// fast path for `[String: String]` metadata.
protocol MessagePackMapKey: Hashable {
    func writeMessagePackKey(into stream: MessagePackEncodingStream)
    static func readMessagePackKey(
        from session: MessagePackDecodingSession, at offset: Int
    ) throws(MessagePackReadError) -> (Self, end: Int)
    var codingKey: MessagePackCodingKey { get }
}

extension String: MessagePackMapKey {
    func writeMessagePackKey(into stream: MessagePackEncodingStream) { stream.writeKey(self) }
    static func readMessagePackKey(
        from session: MessagePackDecodingSession, at offset: Int
    ) throws(MessagePackReadError) -> (String, end: Int) {
        try session.readString(at: offset)
    }
    var codingKey: MessagePackCodingKey { MessagePackCodingKey(stringValue: self) }
}

/// Integer keys: written as MessagePack integers; read from integers, or
/// from strings holding a number (a JSON-minded producer's map).
protocol MessagePackIntegerMapKey: MessagePackMapKey, FixedWidthInteger {}

extension MessagePackIntegerMapKey {
    func writeMessagePackKey(into stream: MessagePackEncodingStream) {
        if Self.isSigned {
            cort_mp_pack_int64(stream.writer, Int64(truncatingIfNeeded: self))
        } else {
            cort_mp_pack_uint64(stream.writer, UInt64(truncatingIfNeeded: self))
        }
    }
    static func readMessagePackKey(
        from session: MessagePackDecodingSession, at offset: Int
    ) throws(MessagePackReadError) -> (Self, end: Int) {
        if try session.stringBounds(at: offset) != nil {
            let (text, end) = try session.readString(at: offset)
            guard let value = Self(text) else {
                throw .mismatch(Self.self, found: MessagePackFormat.fixStr, at: offset)
            }
            return (value, end)
        }
        return try session.readInteger(Self.self, at: offset)
    }
    var codingKey: MessagePackCodingKey { MessagePackCodingKey(intValue: Int(truncatingIfNeeded: self)) }
}

extension Int: MessagePackIntegerMapKey {}
extension Int8: MessagePackIntegerMapKey {}
extension Int16: MessagePackIntegerMapKey {}
extension Int32: MessagePackIntegerMapKey {}
extension Int64: MessagePackIntegerMapKey {}
extension UInt: MessagePackIntegerMapKey {}
extension UInt8: MessagePackIntegerMapKey {}
extension UInt16: MessagePackIntegerMapKey {}
extension UInt32: MessagePackIntegerMapKey {}
extension UInt64: MessagePackIntegerMapKey {}

/// Marks dictionaries the encoder writes as a map itself.
protocol MessagePackEncodableMap {
    func encodeMessagePackMap(into stream: MessagePackEncodingStream, path: () -> [any CodingKey]) throws
}

/// Marks dictionaries the decoder reads from a map itself.
protocol MessagePackDecodableMap {
    static func decodeMessagePackMap(
        from session: MessagePackDecodingSession, at offset: Int, level: Int, node: Int
    ) throws -> Self
}

extension Dictionary: MessagePackEncodableMap where Key: MessagePackMapKey, Value: Encodable {
    func encodeMessagePackMap(into stream: MessagePackEncodingStream, path: () -> [any CodingKey]) throws {
        guard count <= MessagePackFormat.maxLength else {
            throw EncodingError.invalidValue(self, EncodingError.Context(
                codingPath: path(), debugDescription: "A MessagePack map holds at most 2^32-1 entries"))
        }
        cort_mp_pack_map(stream.writer, count)
        for (key, value) in self {
            key.writeMessagePackKey(into: stream)
            try stream.encodeValue(value, path: { path() + [key.codingKey] })
        }
    }
}

extension Dictionary: MessagePackDecodableMap where Key: MessagePackMapKey, Value: Decodable {
    static func decodeMessagePackMap(
        from session: MessagePackDecodingSession, at offset: Int, level: Int, node: Int
    ) throws -> Self {
        let path = { session.codingPath(at: node) }
        let inner = level + 1
        let header: (count: Int, first: Int)?
        do throws(MessagePackReadError) { header = try session.mapHeader(at: offset, level: inner) } catch {
            throw error.decodingError(path: path())
        }
        guard let (count, first) = header else {
            let lead = (try? session.byte(at: offset)) ?? MessagePackFormat.nil
            throw MessagePackReadError.mismatch(Self.self, found: lead, at: offset).decodingError(path: path())
        }
        // `count` was checked against the remaining input, so this
        // reservation is bounded by the input's size.
        var result = Self(minimumCapacity: count)
        var position = first
        for _ in 0..<count {
            let key: Key, valueOffset: Int
            do throws(MessagePackReadError) { (key, valueOffset) = try Key.readMessagePackKey(from: session, at: position) } catch {
                throw error.decodingError(path: path())
            }
            result[key] = try session.decodeValue(Value.self, at: valueOffset, level: inner, parent: node, key: { key.codingKey })
            do throws(MessagePackReadError) { position = try session.skip(at: valueOffset, level: inner) } catch {
                throw error.decodingError(path: path() + [key.codingKey])
            }
        }
        return result
    }
}
