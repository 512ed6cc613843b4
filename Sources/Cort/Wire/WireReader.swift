import CortMessagePack
/// Reads the MessagePack values of one envelope frame, strictly: every length
/// is checked against the bytes left before anything is copied or allocated,
/// strings must be valid UTF-8, and nothing traps on any input.
///
/// It reads only the fixed shapes of the envelope and never recurses into a
/// value, so a nesting bomb is just a field of the wrong type. Failures are
/// `WireError`s that name the field and carry the call id once the header
/// has been read.
struct WireReader {
    private let base: UnsafePointer<UInt8>
    private(set) var position = 0
    let count: Int
    /// The call id from the header, once read; every later error carries it.
    var id: UInt64?

    /// `bytes` must not be empty (its base address is then non-nil).
    init(_ bytes: UnsafeRawBufferPointer) {
        // The frame is plain bytes; reading them as UInt8 is always valid.
        base = UnsafePointer(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self))
        count = bytes.count
    }

    var remaining: Int { count - position }

    func error(_ message: String) -> WireError {
        WireError(id: id, code: .protocolError, message: message)
    }

    private func truncated(_ field: StaticString) -> WireError {
        error("the frame ends inside field '\(field)'")
    }

    private func wrongType(_ field: StaticString, expected: StaticString, found byte: UInt8) -> WireError {
        error("field '\(field)': expected \(expected), found \(MessagePackFormat.describe(byte))")
    }

    // Inlined: a request is read a byte at a time for its markers, and the
    // call cost more than the read (callgrind, a node).
    @inline(__always)
    private mutating func byte(_ field: StaticString) throws(WireError) -> UInt8 {
        guard position < count else { throw truncated(field) }
        defer { position += 1 }
        return base[position]
    }

    @inline(__always)
    private mutating func big<T: FixedWidthInteger>(_: T.Type, _ field: StaticString) throws(WireError) -> T {
        guard remaining >= MemoryLayout<T>.size else { throw truncated(field) }
        defer { position += MemoryLayout<T>.size }
        return T(bigEndian: UnsafeRawPointer(base + position).loadUnaligned(as: T.self))
    }

    /// The next `length` bytes, after checking they are in the frame.
    private mutating func span(_ length: Int, _ field: StaticString) throws(WireError) -> UnsafeBufferPointer<UInt8> {
        guard length <= remaining else { throw truncated(field) }
        defer { position += length }
        return UnsafeBufferPointer(start: base + position, count: length)
    }

    /// Whether the next value is nil (consumed if so).
    private mutating func skipNil() -> Bool {
        guard position < count, base[position] == MessagePackFormat.nil else { return false }
        position += 1
        return true
    }

    /// An unsigned integer. Signed formats holding a non-negative value are
    /// accepted too: some MessagePack encoders write small numbers that way.
    mutating func readUInt(_ field: StaticString) throws(WireError) -> UInt64 {
        let marker = try byte(field)
        switch marker {
        case 0...MessagePackFormat.positiveFixIntMax: return UInt64(marker)
        case MessagePackFormat.uint8: return UInt64(try byte(field))
        case MessagePackFormat.uint16: return UInt64(try big(UInt16.self, field))
        case MessagePackFormat.uint32: return UInt64(try big(UInt32.self, field))
        case MessagePackFormat.uint64: return try big(UInt64.self, field)
        case MessagePackFormat.int8, MessagePackFormat.int16, MessagePackFormat.int32, MessagePackFormat.int64:
            let value: Int64 =
                switch marker {
                case MessagePackFormat.int8: Int64(Int8(bitPattern: try byte(field)))
                case MessagePackFormat.int16: Int64(try big(Int16.self, field))
                case MessagePackFormat.int32: Int64(try big(Int32.self, field))
                default: try big(Int64.self, field)
                }
            guard value >= 0 else { throw error("field '\(field)': expected an unsigned integer, found \(value)") }
            return UInt64(value)
        case 0xe0...0xff:
            throw error("field '\(field)': expected an unsigned integer, found \(Int8(bitPattern: marker))")
        default:
            throw wrongType(field, expected: "an unsigned integer", found: marker)
        }
    }

    /// An array's element count, checked against the bytes left (every
    /// element takes at least one) unless `bounded` is false: the envelope's
    /// own array is not, so that a truncated frame still yields its header.
    mutating func readArrayHeader(_ field: StaticString, bounded: Bool = true) throws(WireError) -> Int {
        let marker = try byte(field)
        let length: Int
        switch marker {
        case 0x90...0x9f: length = Int(marker & 0x0f)
        case MessagePackFormat.array16: length = Int(try big(UInt16.self, field))
        case MessagePackFormat.array32: length = Int(try big(UInt32.self, field))
        default: throw wrongType(field, expected: "an array", found: marker)
        }
        guard !bounded || length <= remaining else { throw truncated(field) }
        return length
    }

    /// A map's entry count (checked against the bytes left: every entry takes at least two).
    mutating func readMapHeader(_ field: StaticString) throws(WireError) -> Int {
        let marker = try byte(field)
        let length: Int
        switch marker {
        case 0x80...0x8f: length = Int(marker & 0x0f)
        case MessagePackFormat.map16: length = Int(try big(UInt16.self, field))
        case MessagePackFormat.map32: length = Int(try big(UInt32.self, field))
        default: throw wrongType(field, expected: "a map", found: marker)
        }
        guard length <= remaining / 2 else { throw truncated(field) }
        return length
    }

    /// A string of valid UTF-8, at most `maxBytes` long.
    mutating func readString(_ field: StaticString, maxBytes: Int = .max) throws(WireError) -> String {
        try string(readStringBytes(field, maxBytes: maxBytes), field)
    }

    /// A string of valid UTF-8, at most `maxBytes` long: one of `names` when
    /// it holds the same bytes (see ``RecentNames``), else a new one, kept
    /// there. Without `names`, as ``readString(_:maxBytes:)``.
    mutating func readString(_ field: StaticString, maxBytes: Int = .max, names: RecentNames?) throws(WireError) -> String {
        let utf8 = try readStringBytes(field, maxBytes: maxBytes)
        // Strings of up to 15 bytes are stored inline: nothing to save.
        guard let names, utf8.count > 15 else { return try string(utf8, field) }
        let hash = RecentNames.hash(utf8)
        if let known = names.string(utf8, hash: hash) { return known }
        let string = try string(utf8, field)
        names.keep(string, hash: hash)
        return string
    }

    /// The bytes of a string, at most `maxBytes` long, not yet checked as UTF-8.
    private mutating func readStringBytes(_ field: StaticString, maxBytes: Int) throws(WireError) -> UnsafeBufferPointer<UInt8> {
        let marker = try byte(field)
        let length: Int
        switch marker {
        case 0xa0...0xbf: length = Int(marker & 0x1f)
        case MessagePackFormat.str8: length = Int(try byte(field))
        case MessagePackFormat.str16: length = Int(try big(UInt16.self, field))
        case MessagePackFormat.str32: length = Int(try big(UInt32.self, field))
        default: throw wrongType(field, expected: "str", found: marker)
        }
        guard length <= maxBytes else {
            throw error("field '\(field)': \(length) bytes, more than the limit of \(maxBytes)")
        }
        return try span(length, field)
    }

    /// `utf8` as a String, if it is valid UTF-8.
    private func string(_ utf8: UnsafeBufferPointer<UInt8>, _ field: StaticString) throws(WireError) -> String {
        if utf8.isEmpty { return "" }
        // Names, targets and trace context are ASCII: checking that word by word and
        // building the string with the specialized `String(decoding:)` is several
        // times faster than `String(validating:)`, which runs unspecialized here.
        if Self.isASCII(utf8) { return String(decoding: utf8, as: UTF8.self) }
        guard let string = String(validating: utf8, as: UTF8.self) else {
            throw error("field '\(field)': not valid UTF-8")
        }
        return string
    }

    private static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let raw = UnsafeRawPointer(base)
        var offset = 0
        while offset + 8 <= bytes.count {
            if raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { return false }
            offset += 8
        }
        while offset < bytes.count {
            if base[offset] & 0x80 != 0 { return false }
            offset += 1
        }
        return true
    }

    /// A string or nil.
    mutating func readOptionalString(_ field: StaticString, maxBytes: Int = .max) throws(WireError) -> String? {
        if skipNil() { return nil }
        return try readString(field, maxBytes: maxBytes)
    }

    /// A bin's bytes, copied out of the frame.
    mutating func readBin(_ field: StaticString) throws(WireError) -> [UInt8] {
        let range = try readBinRange(field)
        return Array(UnsafeBufferPointer(start: base + range.lowerBound, count: range.count))
    }

    /// Where a bin's bytes are in the frame, without copying them.
    mutating func readBinRange(_ field: StaticString) throws(WireError) -> Range<Int> {
        let marker = try byte(field)
        let length: Int
        switch marker {
        case MessagePackFormat.bin8: length = Int(try byte(field))
        case MessagePackFormat.bin16: length = Int(try big(UInt16.self, field))
        case MessagePackFormat.bin32: length = Int(try big(UInt32.self, field))
        default: throw wrongType(field, expected: "bin", found: marker)
        }
        guard length <= remaining else { throw truncated(field) }
        defer { position += length }
        return position..<(position + length)
    }

    /// A bin or nil.
    mutating func readOptionalBin(_ field: StaticString) throws(WireError) -> [UInt8]? {
        if skipNil() { return nil }
        return try readBin(field)
    }
}
