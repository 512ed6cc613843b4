#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A map being read. Keys are found by comparing the UTF-8 bytes of
/// `key.stringValue` with the map's keys in place, trying first the entry
/// after the one found last (see `KeyHint`), then the same entry again, and
/// only then scanning the map from its start.
struct MessagePackKeyedDecodingContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    typealias ReadError = MessagePackReadError

    let session: MessagePackDecodingSession
    /// Depth of this map; its values are decoded at this level.
    let level: Int
    let first: Int
    let count: Int
    /// This map's coding path, as a node of the session's path table: the
    /// standard library's box copies the container on every call, so it
    /// holds no array to retain (see `MessagePackDecodingSession`).
    let node: Int

    init(session: MessagePackDecodingSession, level: Int, first: Int, count: Int, node: Int) {
        self.session = session
        self.level = level
        self.first = first
        self.count = count
        self.node = node
    }

    var codingPath: [any CodingKey] { session.codingPath(at: node) }

    // MARK: Lookup

    /// The offset of the value stored under `key`, or nil. The key's name is
    /// turned into contiguous UTF-8 once per lookup (free for the literal
    /// names of synthesized coding keys), not once per compared entry, and the
    /// search itself is non-generic code in the session: the closure captures
    /// nothing of type `Key`, so no generic metadata is looked up per call.
    @inline(__always)
    private func find(_ key: Key) throws(ReadError) -> Int? {
        guard count > 0 else { return nil }
        var name = key.stringValue
        let intKey = key.intValue
        let (session, level, first, count) = (session, level, first, count)
        let found = name.withUTF8 { utf8 -> Result<Int?, ReadError> in
            do throws(ReadError) {
                return .success(try session.findValue(
                    named: UnsafeRawBufferPointer(utf8), intKey: intKey, first: first, count: count, level: level))
            } catch {
                return .failure(error)
            }
        }
        return try found.get()
    }

    /// The offset of the value for `key`; a missing key is `keyNotFound`.
    @inline(__always)
    private func valueOffset(_ key: Key) throws -> Int {
        let found: Int?
        do throws(ReadError) { found = try find(key) } catch { throw error.decodingError(path: codingPath) }
        guard let found else {
            throw DecodingError.keyNotFound(key, DecodingError.Context(
                codingPath: codingPath, debugDescription: "No value for key \(key.stringValue)"))
        }
        return found
    }

    /// Reads a primitive value and remembers where it ended for the next lookup.
    @inline(__always)
    private func read<V>(_ key: Key, _ body: (Int) throws(ReadError) -> (V, end: Int)) throws -> V {
        let offset = try valueOffset(key)
        do throws(ReadError) {
            let (value, end) = try body(offset)
            session.noteValueEnd(level: level, first: first, offset: offset, end: end)
            return value
        } catch {
            throw fail(error, key)
        }
    }

    private func fail(_ error: ReadError, _ key: Key) -> DecodingError {
        error.decodingError(path: session.codingPath(at: node, appending: key))
    }

    var allKeys: [Key] {
        var keys: [Key] = []
        var offset = first
        for _ in 0..<count {
            // allKeys cannot throw: on bad input, list what was readable and
            // let the decode of a value report the problem.
            guard let valueOffset = try? keyOf(at: offset, into: &keys),
                  let next = try? session.skip(at: valueOffset, level: level) else { break }
            offset = next
        }
        return keys
    }

    private func keyOf(at offset: Int, into keys: inout [Key]) throws(ReadError) -> Int {
        if let (start, length) = try session.stringBounds(at: offset) {
            if let (name, end) = try? session.readString(at: offset), let key = Key(stringValue: name) {
                keys.append(key)
                return end
            }
            return start + length
        }
        if let (value, end) = try? session.readInteger(Int.self, at: offset) {
            if let key = Key(intValue: value) { keys.append(key) }
            return end
        }
        return try session.skip(at: offset, level: level)
    }

    func contains(_ key: Key) -> Bool { ((try? find(key)) ?? nil) != nil }

    func decodeNil(forKey key: Key) throws -> Bool {
        let offset = try valueOffset(key)
        return (try? session.byte(at: offset)) == MessagePackFormat.nil
    }

    // The decode methods are inlined into the protocol witness thunks that
    // the standard library's container box calls: one call less per field.
    @inline(__always)
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try read(key) { [session] offset throws(ReadError) in try session.readBool(at: offset) }
    }
    @inline(__always)
    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try read(key) { [session] offset throws(ReadError) in try session.readString(at: offset) }
    }
    @inline(__always)
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try read(key) { [session] offset throws(ReadError) in try session.readDouble(at: offset) }
    }
    @inline(__always)
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try read(key) { [session] offset throws(ReadError) in try session.readFloat(at: offset) }
    }
    @inline(__always)
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
        try read(key) { [session] offset throws(ReadError) in try session.readInteger(Int.self, at: offset) }
    }
    @inline(__always)
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 {
        try read(key) { [session] offset throws(ReadError) in try session.readInteger(Int8.self, at: offset) }
    }
    @inline(__always)
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
        try read(key) { [session] offset throws(ReadError) in try session.readInteger(Int16.self, at: offset) }
    }
    @inline(__always)
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
        try read(key) { [session] offset throws(ReadError) in try session.readInteger(Int32.self, at: offset) }
    }
    @inline(__always)
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
        try read(key) { [session] offset throws(ReadError) in try session.readInteger(Int64.self, at: offset) }
    }
    @inline(__always)
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt {
        try read(key) { [session] offset throws(ReadError) in try session.readInteger(UInt.self, at: offset) }
    }
    @inline(__always)
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
        try read(key) { [session] offset throws(ReadError) in try session.readInteger(UInt8.self, at: offset) }
    }
    @inline(__always)
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
        try read(key) { [session] offset throws(ReadError) in try session.readInteger(UInt16.self, at: offset) }
    }
    @inline(__always)
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
        try read(key) { [session] offset throws(ReadError) in try session.readInteger(UInt32.self, at: offset) }
    }
    @inline(__always)
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
        try read(key) { [session] offset throws(ReadError) in try session.readInteger(UInt64.self, at: offset) }
    }
    @inline(__always)
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let offset = try valueOffset(key)
        let value = try session.decodeValue(type, at: offset, level: level, parent: node, key: { key })
        session.noteDecodedValueEnd(level: level, first: first, offset: offset)
        return value
    }

    /// One lookup instead of the default's three (contains, decodeNil, decode).
    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        let found: Int?
        do throws(ReadError) { found = try find(key) } catch { throw error.decodingError(path: codingPath) }
        guard let offset = found, (try? session.byte(at: offset)) != MessagePackFormat.nil else { return nil }
        let value = try session.decodeValue(type, at: offset, level: level, parent: node, key: { key })
        session.noteDecodedValueEnd(level: level, first: first, offset: offset)
        return value
    }

    // MARK: Nesting

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type, forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        let offset = try valueOffset(key)
        let header: (count: Int, first: Int)?
        do throws(ReadError) { header = try session.mapHeader(at: offset, level: level + 1) } catch {
            throw fail(error, key)
        }
        guard let header else { throw mismatch([String: Any].self, at: offset, key) }
        return KeyedDecodingContainer(MessagePackKeyedDecodingContainer<NestedKey>(
            session: session, level: level + 1, first: header.first, count: header.count,
            node: session.pushNode(parent: node, key: key)))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        let offset = try valueOffset(key)
        let header: (count: Int, first: Int)?
        do throws(ReadError) { header = try session.arrayHeader(at: offset, level: level + 1) } catch {
            throw fail(error, key)
        }
        guard let header else { throw mismatch([Any].self, at: offset, key) }
        return MessagePackUnkeyedDecodingContainer(
            session: session, level: level + 1, first: header.first, count: header.count,
            node: session.pushNode(parent: node, key: key))
    }

    func superDecoder() throws -> any Decoder {
        try superDecoder(at: MessagePackCodingKey.super.stringValue, pathKey: MessagePackCodingKey.super)
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        let offset = try valueOffset(key)
        return session.makeSuperDecoder(at: offset, level: level, codingPath: codingPath + [key])
    }

    private func superDecoder(at name: String, pathKey: MessagePackCodingKey) throws -> any Decoder {
        // "super" is not a `Key`; look it up by scanning.
        var offset = first
        for _ in 0..<count {
            let value: Int
            do throws(ReadError) {
                if let (start, length) = try session.stringBounds(at: offset) {
                    var name = name
                    let matched = name.withUTF8 {
                        session.stringEquals(start: start, length: length, UnsafeRawBufferPointer($0))
                    }
                    if matched {
                        return session.makeSuperDecoder(at: start + length, level: level, codingPath: codingPath + [pathKey])
                    }
                    value = start + length
                } else {
                    value = try session.skip(at: offset, level: level)
                }
                offset = try session.skip(at: value, level: level)
            } catch {
                throw error.decodingError(path: codingPath)
            }
        }
        throw DecodingError.keyNotFound(pathKey, DecodingError.Context(
            codingPath: codingPath, debugDescription: "No value for key super"))
    }

    private func mismatch(_ type: Any.Type, at offset: Int, _ key: Key) -> DecodingError {
        let lead = (try? session.byte(at: offset)) ?? MessagePackFormat.nil
        return fail(ReadError.mismatch(type, found: lead, at: offset), key)
    }
}
