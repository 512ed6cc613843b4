internal import CMessagePack

/// Any one MessagePack value, held as a tree: what a tool that does not know
/// the Swift types on the other side (`cort call`, `cort bench`) reads and writes.
///
/// Reading goes through the decoder's own bounds-checked cursor, so it has
/// the decoder's guarantees: every length and element count is checked
/// against the bytes that remain before anything is allocated for it, nesting
/// is bounded, `str` must be valid UTF-8, and malformed input throws a
/// ``MessagePackError``, never traps. Writing goes through msgpack-c's packer
/// and always picks the smallest format.
///
/// An integer is read as ``int(_:)`` whenever it fits in `Int64`, and as
/// ``uint(_:)`` only above `Int64.max`; equality and hashing compare integers
/// by value, so `.int(5) == .uint(5)` (both encode to the same byte).
/// float32 and float64 stay apart (``float(_:)``, ``double(_:)``), as they
/// encode differently. Map entries keep their order and may have keys of any type.
///
/// ```swift
/// let value = try MessagePackValue(json: #"{"name": "Ada", "age": 36}"#)
/// let bytes = value.messagePack()            // [0x82, 0xa3, 0x61, 0x67, 0x65, 0x24, ...]
/// let person = try MessagePackDecoder().decode(Person.self, from: bytes)
///
/// let result = try MessagePackValue(messagePack: try MessagePackEncoder().encode(person))
/// print(try result.json())                  // {"age":36,"name":"Ada"}
/// ```
public enum MessagePackValue: Sendable, Hashable {
    /// `nil`.
    case `nil`
    /// `true` or `false`.
    case bool(Bool)
    /// An integer; what every integer up to `Int64.max` is read as.
    case int(Int64)
    /// An integer above `Int64.max` (any non-negative one may be written this way).
    case uint(UInt64)
    /// A float64.
    case double(Double)
    /// A float32.
    case float(Float)
    /// A `str`: UTF-8 text.
    case string(String)
    /// A `bin`: raw bytes.
    case binary([UInt8])
    /// An array.
    case array([MessagePackValue])
    /// A map, its entries in the order they were read or are to be written.
    case map([Pair])
    /// An extension value: an application-defined `type` (negative types are
    /// reserved by the spec; -1 is the timestamp) and its payload.
    case `extension`(type: Int8, data: [UInt8])

    /// One entry of a ``MessagePackValue/map(_:)``.
    public struct Pair: Sendable, Hashable {
        /// The entry's key; MessagePack allows any value as a key.
        public var key: MessagePackValue
        /// The entry's value.
        public var value: MessagePackValue

        /// Creates an entry.
        public init(key: MessagePackValue, value: MessagePackValue) {
            self.key = key
            self.value = value
        }
    }

    /// The nesting depth ``init(messagePack:maxDepth:)`` allows by default,
    /// as ``MessagePackDecoder/maxDepth`` does.
    public static let defaultMaxDepth = 512

    /// Reads `bytes`, which must hold exactly one MessagePack value.
    ///
    /// - Parameters:
    ///   - bytes: The MessagePack bytes, untrusted.
    ///   - maxDepth: How deeply maps and arrays may nest (the top-level
    ///     container is depth 1). It also bounds the recursion of the
    ///     reader, so keep it moderate.
    /// - Throws: ``MessagePackError`` with the offset of the problem: the
    ///   input is empty or ends inside a value (`truncated`), a length or
    ///   count goes past the end (`lengthExceedsInput`), a `str` is not UTF-8
    ///   (`invalidUTF8`), containers nest deeper than `maxDepth` (`tooDeep`),
    ///   the byte 0xc1 appears (`reservedByte`) or bytes follow the value
    ///   (`trailingBytes`).
    public init(messagePack bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth) throws(MessagePackError) {
        var outcome = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(MessagePackError) in try Self.read(UnsafeRawBufferPointer(buffer), maxDepth: maxDepth) }
        }
        if outcome == nil {
            outcome = Array(bytes).withUnsafeBytes { buffer in
                Result { () throws(MessagePackError) in try Self.read(buffer, maxDepth: maxDepth) }
            }
        }
        self = try outcome!.get()
    }

    /// The MessagePack encoding of this value, in the smallest formats:
    /// integers as the `uint` family when non-negative (as
    /// ``MessagePackEncoder`` writes them), fix/8/16/32 headers by length,
    /// fixext where the payload length allows. ``double(_:)`` is always
    /// float64 and ``float(_:)`` float32.
    ///
    /// - Precondition: No string, binary, array, map or extension payload
    ///   holds more than 2³²−1 bytes or elements, the format's limit.
    public func messagePack() -> [UInt8] {
        let writer = UnsafeMutablePointer<cort_mp_writer>.allocate(capacity: 1)
        cort_mp_writer_init(writer, nil, 0)
        defer {
            cort_mp_writer_destroy(writer)
            writer.deallocate()
        }
        write(into: writer)
        // Only allocation fails the writer; a Swift array would trap as well.
        precondition(writer.pointee.failed == 0, "MessagePackValue.messagePack(): out of memory")
        return [UInt8](UnsafeRawBufferPointer(start: writer.pointee.data, count: writer.pointee.size))
    }

    // MARK: Equality

    /// Structural equality, except that integers compare by value whichever
    /// case holds them, and floating-point payloads compare as `Double` and
    /// `Float` do (so `.double(.nan)` equals nothing).
    public static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.nil, .nil): return true
        case let (.bool(a), .bool(b)): return a == b
        case let (.int(a), .int(b)): return a == b
        case let (.uint(a), .uint(b)): return a == b
        case let (.int(a), .uint(b)), let (.uint(b), .int(a)): return a >= 0 && UInt64(a) == b
        case let (.double(a), .double(b)): return a == b
        case let (.float(a), .float(b)): return a == b
        case let (.string(a), .string(b)): return a == b
        case let (.binary(a), .binary(b)): return a == b
        case let (.array(a), .array(b)): return a == b
        case let (.map(a), .map(b)): return a == b
        case let (.extension(typeA, dataA), .extension(typeB, dataB)): return typeA == typeB && dataA == dataB
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .nil: hasher.combine(0)
        case .bool(let value): hasher.combine(1); hasher.combine(value)
        // A non-negative integer hashes the same from either case (see `==`).
        case .int(let value) where value >= 0: hasher.combine(2); hasher.combine(UInt64(value))
        case .int(let value): hasher.combine(3); hasher.combine(value)
        case .uint(let value): hasher.combine(2); hasher.combine(value)
        case .double(let value): hasher.combine(4); hasher.combine(value)
        case .float(let value): hasher.combine(5); hasher.combine(value)
        case .string(let value): hasher.combine(6); hasher.combine(value)
        case .binary(let value): hasher.combine(7); hasher.combine(value)
        case .array(let value): hasher.combine(8); hasher.combine(value)
        case .map(let value): hasher.combine(9); hasher.combine(value)
        case .extension(let type, let data): hasher.combine(10); hasher.combine(type); hasher.combine(data)
        }
    }
}

// MARK: Reading

extension MessagePackValue {
    private static func read(_ bytes: UnsafeRawBufferPointer, maxDepth: Int) throws(MessagePackError) -> Self {
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            throw MessagePackError(code: .truncated, message: "Input is empty", offset: 0)
        }
        // The decoder's session, used only as the bounds-checked cursor: its
        // header readers check counts against the remaining input and depth
        // against maxDepth before this reader allocates anything.
        let session = MessagePackDecodingSession(base: base, count: bytes.count, maxDepth: maxDepth, userInfo: [:])
        defer { session.finish() }
        do throws(MessagePackReadError) {
            let (value, end) = try read(session, at: 0, level: 0)
            if end != bytes.count { throw .trailingBytes(at: end, total: bytes.count) }
            return value
        } catch {
            throw MessagePackError(code: error.code, message: error.message, offset: error.offset)
        }
    }

    /// Reads the value at `offset`, held by a container at depth `level`
    /// (0 for the top-level value), and returns it with where it ends.
    private static func read(
        _ session: MessagePackDecodingSession, at offset: Int, level: Int
    ) throws(MessagePackReadError) -> (Self, end: Int) {
        let lead = try session.byte(at: offset)
        switch lead {
        case 0x00...MessagePackFormat.positiveFixIntMax, MessagePackFormat.negativeFixIntMin...0xff,
             MessagePackFormat.uint8...MessagePackFormat.int64:
            let (integer, end) = try session.readInteger(at: offset, expected: Int64.self)
            switch integer {
            case .unsigned(let magnitude):
                return (Int64(exactly: magnitude).map(Self.int) ?? .uint(magnitude), end)
            case .negative(let value):
                return (.int(value), end)
            }
        case MessagePackFormat.nil:
            return (.nil, offset + 1)
        case MessagePackFormat.false:
            return (.bool(false), offset + 1)
        case MessagePackFormat.true:
            return (.bool(true), offset + 1)
        case MessagePackFormat.float32:
            return (.float(Float(bitPattern: try session.load(UInt32.self, at: offset + 1))), offset + 5)
        case MessagePackFormat.float64:
            return (.double(Double(bitPattern: try session.load(UInt64.self, at: offset + 1))), offset + 9)
        case MessagePackFormat.fixStr...MessagePackFormat.fixStrMax,
             MessagePackFormat.str8, MessagePackFormat.str16, MessagePackFormat.str32:
            let (string, end) = try session.readString(at: offset)
            return (.string(string), end)
        case MessagePackFormat.bin8, MessagePackFormat.bin16, MessagePackFormat.bin32:
            let size = 1 << Int(lead - MessagePackFormat.bin8)
            let start = offset + 1 + size
            let length = try session.length(size, at: offset + 1)
            let end = try session.payload(start, length)
            return (.binary(copy(session, start, length)), end)
        case MessagePackFormat.fixArray...MessagePackFormat.fixArrayMax,
             MessagePackFormat.array16, MessagePackFormat.array32:
            // The header checked `count` against the bytes that remain (one
            // at least per element), so the reservation is bounded by the input.
            let (count, first) = try session.arrayHeader(at: offset, level: level + 1)!
            var elements: [Self] = []
            elements.reserveCapacity(count)
            var position = first
            for _ in 0..<count {
                let (element, end) = try read(session, at: position, level: level + 1)
                elements.append(element)
                position = end
            }
            return (.array(elements), position)
        case MessagePackFormat.fixMap...MessagePackFormat.fixMapMax,
             MessagePackFormat.map16, MessagePackFormat.map32:
            let (count, first) = try session.mapHeader(at: offset, level: level + 1)!
            var pairs: [Pair] = []
            pairs.reserveCapacity(count)
            var position = first
            for _ in 0..<count {
                let (key, keyEnd) = try read(session, at: position, level: level + 1)
                let (value, end) = try read(session, at: keyEnd, level: level + 1)
                pairs.append(Pair(key: key, value: value))
                position = end
            }
            return (.map(pairs), position)
        case MessagePackFormat.fixExt1...MessagePackFormat.fixExt16:
            let length = 1 << Int(lead - MessagePackFormat.fixExt1)
            return try readExtension(session, typeAt: offset + 1, length: length)
        case MessagePackFormat.ext8, MessagePackFormat.ext16, MessagePackFormat.ext32:
            let size = 1 << Int(lead - MessagePackFormat.ext8)
            let length = try session.length(size, at: offset + 1)
            return try readExtension(session, typeAt: offset + 1 + size, length: length)
        default:
            throw .reservedByte(at: offset)
        }
    }

    private static func readExtension(
        _ session: MessagePackDecodingSession, typeAt offset: Int, length: Int
    ) throws(MessagePackReadError) -> (Self, end: Int) {
        let type = Int8(bitPattern: try session.byte(at: offset))
        let end = try session.payload(offset + 1, length)
        return (.extension(type: type, data: copy(session, offset + 1, length)), end)
    }

    /// Bytes the caller has checked (with `payload`) to lie within the input.
    private static func copy(_ session: MessagePackDecodingSession, _ start: Int, _ length: Int) -> [UInt8] {
        [UInt8](UnsafeRawBufferPointer(start: session.base + start, count: length))
    }
}

// MARK: Writing

extension MessagePackValue {
    private func write(into writer: UnsafeMutablePointer<cort_mp_writer>) {
        switch self {
        case .nil: cort_mp_pack_nil(writer)
        case .bool(let value): cort_mp_pack_bool(writer, value ? 1 : 0)
        case .int(let value): cort_mp_pack_int64(writer, value)
        case .uint(let value): cort_mp_pack_uint64(writer, value)
        case .double(let value): cort_mp_pack_double(writer, value)
        case .float(let value): cort_mp_pack_float(writer, value)
        case .string(var value):
            value.withUTF8 { utf8 in
                Self.checkLength(utf8.count, "string")
                cort_mp_pack_str(writer, utf8.baseAddress, utf8.count)
            }
        case .binary(let bytes):
            Self.checkLength(bytes.count, "binary")
            bytes.withUnsafeBufferPointer { _ = cort_mp_pack_bin(writer, $0.baseAddress, $0.count) }
        case .array(let elements):
            Self.checkLength(elements.count, "array")
            cort_mp_pack_array(writer, elements.count)
            for element in elements { element.write(into: writer) }
        case .map(let pairs):
            Self.checkLength(pairs.count, "map")
            cort_mp_pack_map(writer, pairs.count)
            for pair in pairs {
                pair.key.write(into: writer)
                pair.value.write(into: writer)
            }
        case .extension(let type, let data):
            Self.checkLength(data.count, "extension")
            // msgpack-c's own ext header (fixext when the length allows),
            // through the writer's callback as the shim's helpers do.
            var packer = msgpack_packer(data: UnsafeMutableRawPointer(writer), callback: cort_mp_write)
            msgpack_pack_ext(&packer, data.count, type)
            data.withUnsafeBufferPointer { bytes in
                if let start = bytes.baseAddress {
                    msgpack_pack_ext_body(&packer, start, bytes.count)
                }
            }
        }
    }

    private static func checkLength(_ length: Int, _ what: String) {
        precondition(length <= MessagePackFormat.maxLength, "A MessagePack \(what) holds at most 2^32-1 bytes or elements")
    }
}
