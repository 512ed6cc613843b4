#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where the last key of a map at some depth was found, so that the next
/// lookup (fields are usually decoded in the order they were encoded) tries
/// the following entry before scanning the map.
struct KeyHint {
    var firstEntry = -1
    var index = 0
    var keyOffset = 0
    var valueOffset = 0
    /// Where that value ends when a reader already found out (so the next
    /// lookup need not step over it again), else -1.
    var valueEnd = -1
}

/// One step of a coding path: a key and the node of the path leading to it
/// (an index into the session's node table, or -1 for the root).
struct CodingPathNode {
    var parent: Int
    var key: any CodingKey
}

/// The `Decoder` that every value of one `decode` call sees.
///
/// One object serves the whole tree (it is also the single-value container):
/// before a value's `init(from:)` runs, `position`, `level` and `currentNode`
/// are pointed at it, and restored afterwards.
///
/// Coding paths are kept as a table of nodes (key plus parent index) that
/// containers refer to by index, so a container is a reference and four
/// integers: the standard library's container box copies it on every
/// `decode(_:forKey:)`, and a `[any CodingKey]` in it would be retained and
/// released each time. Arrays are built only when an error or `codingPath`
/// asks for one. Nodes are pushed for a nested value or container and
/// popped when the value's `init(from:)` returns, so the table holds one
/// path's worth of nodes (plus the nested containers one `init(from:)`
/// opened), never more nodes than containers the input holds. The input is read in place;
/// when the call ends, `finish()` empties the view so that a `Decoder` kept
/// alive by a misbehaving `init(from:)` can no longer reach the caller's bytes.
final class MessagePackDecodingSession: Decoder, SingleValueDecodingContainer {
    private(set) var base: UnsafeRawPointer
    /// Bytes readable through `base`; 0 once the call has ended.
    private(set) var count: Int
    private(set) var maxDepth: Int
    /// Offset of the value this decoder stands for.
    var position: Int
    /// Depth of the container holding that value (0 for the top level).
    var level: Int
    /// The path node of the value this decoder stands for (-1: the root).
    var currentNode = -1
    var codingPath: [any CodingKey] { codingPath(at: currentNode) }
    /// The path above the root node: empty except for a super decoder.
    private var rootPath: [any CodingKey]
    // `@exclusivity(unchecked)` on the arrays and dictionary mutated during a
    // call spares each mutation the runtime's access tracking. Safe: one
    // thread at a time uses a session (it is not Sendable, and the cache
    // hands it over whole), and each access is one statement that runs no
    // user code (an append, a removal, an assignment), so no two accesses
    // to the same property can overlap.
    @exclusivity(unchecked) private var pathNodes: [CodingPathNode] = []
    @exclusivity(unchecked) private var sendableUserInfo: [CodingUserInfoKey: any Sendable]
    var userInfo: [CodingUserInfoKey: Any] { sendableUserInfo }

    private(set) var hints: UnsafeMutablePointer<KeyHint>
    private var hintCapacity: Int
    @exclusivity(unchecked) private var superDecoders: [MessagePackDecodingSession] = []
    /// The start and end of the last value a fast path of `decodeValue`
    /// read. A value's end depends only on where it starts, so the pair
    /// stays true for this input whoever read it.
    private(set) var lastValue = (start: -1, end: -1)

    init(base: UnsafeRawPointer, count: Int, maxDepth: Int, userInfo: [CodingUserInfoKey: any Sendable],
         position: Int = 0, level: Int = 0, codingPath: [any CodingKey] = []) {
        self.base = base
        self.count = count
        self.maxDepth = max(0, maxDepth)
        self.sendableUserInfo = userInfo
        self.position = position
        self.level = level
        self.rootPath = codingPath
        hintCapacity = max(8, level + 4)
        hints = .allocate(capacity: hintCapacity)
        hints.initialize(repeating: KeyHint(), count: hintCapacity)
    }

    deinit {
        hints.deallocate()
    }

    /// Points a session from the decoder's cache at the next call's input.
    /// Every hint is cleared: one left from the previous input would send a
    /// lookup to the wrong entry.
    func reset(base: UnsafeRawPointer, count: Int, maxDepth: Int, userInfo: [CodingUserInfoKey: any Sendable]) {
        self.base = base
        self.count = count
        self.maxDepth = max(0, maxDepth)
        // Most coders have no userInfo: skip the retain and release of
        // assigning one empty dictionary over another.
        if !(userInfo.isEmpty && sendableUserInfo.isEmpty) { sendableUserInfo = userInfo }
        position = 0
        level = 0
        lastValue = (-1, -1)
        currentNode = -1
        if !pathNodes.isEmpty { pathNodes.removeAll(keepingCapacity: pathNodes.capacity <= Self.maxKeptHints) }
        if hintCapacity > Self.maxKeptHints {
            hints.deallocate()
            hintCapacity = 8
            hints = .allocate(capacity: hintCapacity)
            hints.initialize(repeating: KeyHint(), count: hintCapacity)
        } else {
            // Every use of a hint first checks `firstEntry` against its map,
            // so clearing that field alone forgets the hint.
            for level in 0..<hintCapacity { hints[level].firstEntry = -1 }
        }
    }

    /// Records that the value at `offset`, the one found last in the map
    /// whose entries start at `first` (depth `level`), ends at `end`.
    @inline(__always)
    func noteValueEnd(level: Int, first: Int, offset: Int, end: Int) {
        let hint = self.hint(level: level)
        if hint.pointee.valueOffset == offset && hint.pointee.firstEntry == first { hint.pointee.valueEnd = end }
    }

    /// Like `noteValueEnd`, with the end `decodeValue` found, if it read the value at `offset` itself.
    @inline(__always)
    func noteDecodedValueEnd(level: Int, first: Int, offset: Int) {
        if lastValue.start == offset { noteValueEnd(level: level, first: first, offset: offset, end: lastValue.end) }
    }

    /// A session whose hint table grew past this many levels (a deeply
    /// nested input) shrinks back when reused.
    private static let maxKeptHints = 64

    // MARK: Coding paths

    /// The coding path of `node`. A node index held by a container used out
    /// of nesting order (kept after its value was decoded) may have been
    /// popped or reused; it still yields a path, never a trap.
    func codingPath(at node: Int) -> [any CodingKey] {
        guard node >= 0, node < pathNodes.count else { return rootPath }
        var keys: [any CodingKey] = []
        var node = node
        // Parents always precede their children (see `pushNode`), so this
        // walk ends.
        while node >= 0 {
            keys.append(pathNodes[node].key)
            node = pathNodes[node].parent
        }
        return rootPath + keys.reversed()
    }

    /// The coding path of `node` followed by `key`.
    func codingPath(at node: Int, appending key: (any CodingKey)?) -> [any CodingKey] {
        guard let key else { return codingPath(at: node) }
        return codingPath(at: node) + [key]
    }

    /// Adds the node for `key` under `parent` and returns its index. A stale
    /// parent (at or past the end of the table) becomes the root, which keeps
    /// every parent index below its child's.
    func pushNode(parent: Int, key: any CodingKey) -> Int {
        pathNodes.append(CodingPathNode(parent: parent < pathNodes.count ? parent : -1, key: key))
        return pathNodes.count - 1
    }

    var nodeMark: Int { pathNodes.count }

    func popNodes(to mark: Int) {
        if pathNodes.count > mark { pathNodes.removeSubrange(mark...) }
    }

    func finish() {
        count = 0
        guard !superDecoders.isEmpty else { return }
        for decoder in superDecoders { decoder.finish() }
        superDecoders = []
    }

    /// The hint slot for maps at `level`, growing the table on demand; a
    /// level exists only if that many nested headers were read, so the table
    /// never outgrows the input.
    @inline(__always)
    func hint(level: Int) -> UnsafeMutablePointer<KeyHint> {
        if level >= hintCapacity { growHints(to: level) }
        return hints + level
    }

    private func growHints(to level: Int) {
        let capacity = max(hintCapacity * 2, level + 1)
        let grown = UnsafeMutablePointer<KeyHint>.allocate(capacity: capacity)
        grown.moveInitialize(from: hints, count: hintCapacity)
        (grown + hintCapacity).initialize(repeating: KeyHint(), count: capacity - hintCapacity)
        hints.deallocate()
        hints = grown
        hintCapacity = capacity
    }

    /// Where the top-level value ends, cheaply when its map was read through
    /// to the last entry in order (every earlier value was stepped over, and
    /// so validated, on the way), else by stepping over the whole value.
    func endOfTopLevelValue() throws(ReadError) -> Int {
        // A fixmap read through a container (its hint says its entries start
        // at 1): its header was validated then, so its count is the low nibble.
        if count > 0, hints[1].firstEntry == 1, base.load(as: UInt8.self) & 0xf0 == MessagePackFormat.fixMap {
            let hint = hints[1], entries = Int(base.load(as: UInt8.self) & 0x0f)
            if hint.index == entries - 1 {
                return hint.valueEnd >= 0 ? hint.valueEnd : try skip(at: hint.valueOffset, level: 1)
            }
        } else if let (count, first) = try? mapHeader(at: 0, level: 1), count > 0 {
            let hint = hints[1]
            if hint.firstEntry == first && hint.index == count - 1 {
                return hint.valueEnd >= 0 ? hint.valueEnd : try skip(at: hint.valueOffset, level: 1)
            }
        }
        return try skip(at: 0, level: 0)
    }

    func makeSuperDecoder(at offset: Int, level: Int, codingPath: [any CodingKey]) -> MessagePackDecodingSession {
        let decoder = MessagePackDecodingSession(
            base: base, count: count, maxDepth: maxDepth, userInfo: sendableUserInfo,
            position: offset, level: level, codingPath: codingPath)
        // A super decoder reports its own coding path, not the session's
        // current one.
        superDecoders.append(decoder)
        return decoder
    }

    // MARK: Decoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        let header: (count: Int, first: Int)?
        do throws(ReadError) { header = try mapHeader(at: position, level: level + 1) } catch { throw error.decodingError(path: codingPath) }
        guard let header else { throw mismatch([String: Any].self, at: position) }
        return KeyedDecodingContainer(MessagePackKeyedDecodingContainer<Key>(
            session: self, level: level + 1, first: header.first, count: header.count, node: currentNode))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        let header: (count: Int, first: Int)?
        do throws(ReadError) { header = try arrayHeader(at: position, level: level + 1) } catch { throw error.decodingError(path: codingPath) }
        guard let header else { throw mismatch([Any].self, at: position) }
        return MessagePackUnkeyedDecodingContainer(
            session: self, level: level + 1, first: header.first, count: header.count, node: currentNode)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

    private func mismatch(_ type: Any.Type, at offset: Int) -> DecodingError {
        let lead = (try? byte(at: offset)) ?? MessagePackFormat.nil
        return ReadError.mismatch(type, found: lead, at: offset).decodingError(path: codingPath)
    }

    // MARK: Values

    /// Decodes the value at `offset`, held by a container at depth `level`
    /// whose path node is `parent`; the value's key within it is `key()`
    /// (nil: the value has the container's own path). `key` is evaluated
    /// only when a path is needed: for an error, or before handing this
    /// decoder to the value's own `init(from:)`.
    func decodeValue<T: Decodable>(
        _ type: T.Type, at offset: Int, level: Int, parent: Int, key: () -> (any CodingKey)?
    ) throws -> T {
        // Call metadata, in every envelope: checked first, as it is no primitive.
        if T.self == [String: String].self {
            let (map, end) = try decodeStringMap(at: offset, level: level, parent: parent, key: key)
            lastValue = (offset, end)
            return same(as: T.self, map)
        }
        do throws(ReadError) {
            // Metatype checks cost a pointer compare; generic code (Array,
            // Optional, Dictionary) reaches the primitives through here.
            if T.self == String.self { return try done(offset, readString(at: offset)) }
            if T.self == Int.self { return try done(offset, readInteger(Int.self, at: offset)) }
            if T.self == Double.self { return try done(offset, readDouble(at: offset)) }
            if T.self == Bool.self { return try done(offset, readBool(at: offset)) }
            if T.self == [UInt8].self {
                return try done(offset, readBytes(at: offset, level: level + 1, expected: T.self) { [UInt8]($0) })
            }
            if T.self == Data.self {
                return try done(offset, readBytes(at: offset, level: level + 1, expected: T.self) { Data($0) })
            }
            if T.self == Date.self { return try done(offset, readDate(at: offset)) }
            if T.self == Int64.self { return try done(offset, readInteger(Int64.self, at: offset)) }
            if T.self == UInt64.self { return try done(offset, readInteger(UInt64.self, at: offset)) }
            if T.self == UInt8.self { return try done(offset, readInteger(UInt8.self, at: offset)) }
            if T.self == Int32.self { return try done(offset, readInteger(Int32.self, at: offset)) }
            if T.self == UInt32.self { return try done(offset, readInteger(UInt32.self, at: offset)) }
            if T.self == UInt.self { return try done(offset, readInteger(UInt.self, at: offset)) }
            if T.self == Float.self { return try done(offset, readFloat(at: offset)) }
            if T.self == Int16.self { return try done(offset, readInteger(Int16.self, at: offset)) }
            if T.self == UInt16.self { return try done(offset, readInteger(UInt16.self, at: offset)) }
            if T.self == Int8.self { return try done(offset, readInteger(Int8.self, at: offset)) }
        } catch {
            throw error.decodingError(path: codingPath(at: parent, appending: key()))
        }
        let mark = nodeMark
        var node = parent
        if let key = key() { node = pushNode(parent: parent, key: key) }
        defer { popNodes(to: mark) }
        // A Dictionary is one word: the size test spares structs the
        // conformance lookup.
        if MemoryLayout<T>.size == MemoryLayout<[String: String]>.size,
           let map = T.self as? any MessagePackDecodableMap.Type {
            return try map.decodeMessagePackMap(from: self, at: offset, level: level, node: node) as! T
        }
        return try decodeWithOwnCoding(type, at: offset, level: level, node: node)
    }

    /// A fast path's result: notes where the value ended (see `lastValue`).
    @inline(__always)
    private func done<V, T>(_ offset: Int, _ result: (V, end: Int)) -> T {
        lastValue = (offset, result.end)
        return same(as: T.self, result.0)
    }

    /// `value` as `T` once the caller has checked that `T` is `V`: a
    /// bit-for-bit reinterpretation, where `as! T` in unspecialized generic
    /// code would be a runtime cast call.
    @inline(__always)
    private func same<V, T>(as _: T.Type, _ value: V) -> T {
        assert(T.self == V.self)
        return unsafeBitCast(value, to: T.self)
    }

    /// `[String: String]` (call metadata) without generic dictionary code.
    private func decodeStringMap(
        at offset: Int, level: Int, parent: Int, key: () -> (any CodingKey)?
    ) throws -> ([String: String], end: Int) {
        var result: [String: String] = [:]
        var failedKey: String?
        var position = offset
        do throws(ReadError) {
            guard let (count, first) = try mapHeader(at: offset, level: level + 1) else {
                throw .mismatch([String: String].self, found: try byte(at: offset), at: offset)
            }
            // Both `init(minimumCapacity:)` and `reserveCapacity` are
            // unspecialized calls that look up generic metadata (~700
            // instructions). A small map starts as a one-entry literal
            // (specialized code that sizes the storage and hashes the key
            // once) and grows on insert; a larger one is worth reserving for.
            if count > 8 { result = Dictionary(minimumCapacity: count) }
            position = first
            for index in 0..<count {
                let (key, valueOffset) = try readString(at: position)
                failedKey = key
                let (value, end) = try readString(at: valueOffset)
                if index == 0 && count <= 8 { result = [key: value] } else { result[key] = value }
                position = end
                failedKey = nil
            }
        } catch {
            throw error.decodingError(path: codingPath(at: parent, appending: key())
                + (failedKey.map { [MessagePackCodingKey(stringValue: $0)] } ?? []))
        }
        return (result, position)
    }

    private func decodeWithOwnCoding<T: Decodable>(
        _ type: T.Type, at offset: Int, level: Int, node: Int
    ) throws -> T {
        let saved = (position, self.level, currentNode)
        position = offset
        self.level = level
        currentNode = node
        defer { (position, self.level, currentNode) = saved }
        return try T(from: self)
    }

    /// Runs a byte-level read for the single-value container.
    @inline(__always)
    private func read<V>(_ body: (Int) throws(ReadError) -> (V, end: Int)) throws -> V {
        do throws(ReadError) { return try body(position).0 } catch { throw error.decodingError(path: codingPath) }
    }

    // MARK: SingleValueDecodingContainer

    func decodeNil() -> Bool { (try? byte(at: position)) == MessagePackFormat.nil }
    func decode(_ type: Bool.Type) throws -> Bool { try read { offset throws(ReadError) in try readBool(at: offset) } }
    func decode(_ type: String.Type) throws -> String { try read { offset throws(ReadError) in try readString(at: offset) } }
    func decode(_ type: Double.Type) throws -> Double { try read { offset throws(ReadError) in try readDouble(at: offset) } }
    func decode(_ type: Float.Type) throws -> Float { try read { offset throws(ReadError) in try readFloat(at: offset) } }
    func decode(_ type: Int.Type) throws -> Int { try read { offset throws(ReadError) in try readInteger(type, at: offset) } }
    func decode(_ type: Int8.Type) throws -> Int8 { try read { offset throws(ReadError) in try readInteger(type, at: offset) } }
    func decode(_ type: Int16.Type) throws -> Int16 { try read { offset throws(ReadError) in try readInteger(type, at: offset) } }
    func decode(_ type: Int32.Type) throws -> Int32 { try read { offset throws(ReadError) in try readInteger(type, at: offset) } }
    func decode(_ type: Int64.Type) throws -> Int64 { try read { offset throws(ReadError) in try readInteger(type, at: offset) } }
    func decode(_ type: UInt.Type) throws -> UInt { try read { offset throws(ReadError) in try readInteger(type, at: offset) } }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try read { offset throws(ReadError) in try readInteger(type, at: offset) } }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try read { offset throws(ReadError) in try readInteger(type, at: offset) } }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try read { offset throws(ReadError) in try readInteger(type, at: offset) } }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try read { offset throws(ReadError) in try readInteger(type, at: offset) } }
    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try decodeValue(type, at: position, level: level, parent: currentNode, key: { nil })
    }
}
