internal import CMessagePack
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An integer as MessagePack carries it: any non-negative value (whatever
/// its format) as `unsigned`, a negative one as `negative`.
enum MessagePackInteger {
    case unsigned(UInt64)
    case negative(Int64)

    var description: String {
        switch self {
        case .unsigned(let value): return "\(value)"
        case .negative(let value): return "\(value)"
        }
    }
}

/// The byte-level cursor: every function validates offsets and lengths
/// against the input before touching it, and allocates nothing except the
/// decoded value itself.
extension MessagePackDecodingSession {
    typealias ReadError = MessagePackReadError

    @inline(__always)
    func byte(at offset: Int) throws(ReadError) -> UInt8 {
        guard offset >= 0, offset < count else { throw .truncated(at: offset) }
        return base.load(fromByteOffset: offset, as: UInt8.self)
    }

    /// Checks that `length` bytes start at `offset` and returns where they end.
    @inline(__always)
    func span(_ offset: Int, _ length: Int) throws(ReadError) -> Int {
        guard offset <= count, length <= count &- offset else { throw .truncated(at: offset) }
        return offset &+ length
    }

    /// Like `span`, for the payload announced by a length field.
    @inline(__always)
    func payload(_ offset: Int, _ length: Int) throws(ReadError) -> Int {
        guard offset <= count, length <= count &- offset else { throw .lengthExceedsInput(length, at: offset) }
        return offset &+ length
    }

    @inline(__always)
    func load<I: FixedWidthInteger>(_: I.Type, at offset: Int) throws(ReadError) -> I {
        _ = try span(offset, MemoryLayout<I>.size)
        return I(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: I.self))
    }

    /// Reads a length field of 1, 2 or 4 bytes.
    @inline(__always)
    func length(_ size: Int, at offset: Int) throws(ReadError) -> Int {
        switch size {
        case 1: return Int(try load(UInt8.self, at: offset))
        case 2: return Int(try load(UInt16.self, at: offset))
        default: return Int(try load(UInt32.self, at: offset))
        }
    }

    // MARK: Scalars

    func readInteger(at offset: Int, expected: Any.Type) throws(ReadError) -> (MessagePackInteger, end: Int) {
        let lead = try byte(at: offset)
        switch lead {
        case 0x00...0x7f: return (.unsigned(UInt64(lead)), offset + 1)
        case 0xe0...0xff: return (.negative(Int64(Int8(bitPattern: lead))), offset + 1)
        case MessagePackFormat.uint8: return (.unsigned(UInt64(try load(UInt8.self, at: offset + 1))), offset + 2)
        case MessagePackFormat.uint16: return (.unsigned(UInt64(try load(UInt16.self, at: offset + 1))), offset + 3)
        case MessagePackFormat.uint32: return (.unsigned(UInt64(try load(UInt32.self, at: offset + 1))), offset + 5)
        case MessagePackFormat.uint64: return (.unsigned(try load(UInt64.self, at: offset + 1)), offset + 9)
        case MessagePackFormat.int8: return (Self.signed(Int64(try load(Int8.self, at: offset + 1))), offset + 2)
        case MessagePackFormat.int16: return (Self.signed(Int64(try load(Int16.self, at: offset + 1))), offset + 3)
        case MessagePackFormat.int32: return (Self.signed(Int64(try load(Int32.self, at: offset + 1))), offset + 5)
        case MessagePackFormat.int64: return (Self.signed(try load(Int64.self, at: offset + 1)), offset + 9)
        default: throw .mismatch(expected, found: lead, at: offset)
        }
    }

    @inline(__always)
    private static func signed(_ value: Int64) -> MessagePackInteger {
        value < 0 ? .negative(value) : .unsigned(UInt64(value))
    }

    /// Decodes any integer format into `I`; a value outside `I`'s range is
    /// an error, never a trap.
    @inline(__always)
    func readInteger<I: FixedWidthInteger>(_ type: I.Type, at offset: Int) throws(ReadError) -> (I, end: Int) {
        let lead = try byte(at: offset)
        if lead <= MessagePackFormat.positiveFixIntMax { return (I(truncatingIfNeeded: lead), offset + 1) }
        // The unsigned formats (every non-negative value an encoder writes
        // past 127), without the general reader's enum.
        if lead >= MessagePackFormat.uint8 && lead <= MessagePackFormat.uint64 {
            let magnitude: UInt64, end: Int
            switch lead {
            case MessagePackFormat.uint8: magnitude = UInt64(try load(UInt8.self, at: offset + 1)); end = offset + 2
            case MessagePackFormat.uint16: magnitude = UInt64(try load(UInt16.self, at: offset + 1)); end = offset + 3
            case MessagePackFormat.uint32: magnitude = UInt64(try load(UInt32.self, at: offset + 1)); end = offset + 5
            default: magnitude = try load(UInt64.self, at: offset + 1); end = offset + 9
            }
            guard let result = I(exactly: magnitude) else {
                throw .overflow(I.self, value: "\(magnitude)", at: offset)
            }
            return (result, end)
        }
        let (value, end) = try readInteger(at: offset, expected: I.self)
        switch value {
        case .unsigned(let magnitude):
            guard let result = I(exactly: magnitude) else { throw .overflow(I.self, value: value.description, at: offset) }
            return (result, end)
        case .negative(let negative):
            guard let result = I(exactly: negative) else { throw .overflow(I.self, value: value.description, at: offset) }
            return (result, end)
        }
    }

    func readBool(at offset: Int) throws(ReadError) -> (Bool, end: Int) {
        let lead = try byte(at: offset)
        switch lead {
        case MessagePackFormat.true: return (true, offset + 1)
        case MessagePackFormat.false: return (false, offset + 1)
        default: throw .mismatch(Bool.self, found: lead, at: offset)
        }
    }

    /// float64 as is; float32 widened; an integer only when the Double holds
    /// it exactly (producers such as JavaScript's send 1.0 as 1).
    func readDouble(at offset: Int) throws(ReadError) -> (Double, end: Int) {
        let lead = try byte(at: offset)
        switch lead {
        case MessagePackFormat.float64:
            return (Double(bitPattern: try load(UInt64.self, at: offset + 1)), offset + 9)
        case MessagePackFormat.float32:
            return (Double(Float(bitPattern: try load(UInt32.self, at: offset + 1))), offset + 5)
        default:
            let (value, end) = try readInteger(at: offset, expected: Double.self)
            let result: Double?
            switch value {
            case .unsigned(let magnitude): result = Double(exactly: magnitude)
            case .negative(let negative): result = Double(exactly: negative)
            }
            guard let result else { throw .overflow(Double.self, value: value.description, at: offset) }
            return (result, end)
        }
    }

    /// float32 as is; a float64 is rounded to the nearest Float when it is
    /// within Float's range (as JSONDecoder does with "0.1"); an integer only
    /// when the Float holds it exactly.
    func readFloat(at offset: Int) throws(ReadError) -> (Float, end: Int) {
        let lead = try byte(at: offset)
        switch lead {
        case MessagePackFormat.float32:
            return (Float(bitPattern: try load(UInt32.self, at: offset + 1)), offset + 5)
        case MessagePackFormat.float64:
            let double = Double(bitPattern: try load(UInt64.self, at: offset + 1))
            if double.isFinite && abs(double) > Double(Float.greatestFiniteMagnitude) {
                throw .overflow(Float.self, value: "\(double)", at: offset)
            }
            return (Float(double), offset + 9)
        default:
            let (value, end) = try readInteger(at: offset, expected: Float.self)
            let result: Float?
            switch value {
            case .unsigned(let magnitude): result = Float(exactly: magnitude)
            case .negative(let negative): result = Float(exactly: negative)
            }
            guard let result else { throw .overflow(Float.self, value: value.description, at: offset) }
            return (result, end)
        }
    }

    // MARK: Strings and bytes

    /// Where the UTF-8 bytes of a `str` value lie, or nil when the value is no `str`.
    @inline(__always)
    func stringBounds(at offset: Int) throws(ReadError) -> (start: Int, length: Int)? {
        let lead = try byte(at: offset)
        let start: Int, length: Int
        switch lead {
        case MessagePackFormat.fixStr...MessagePackFormat.fixStrMax:
            start = offset + 1; length = Int(lead & 0x1f)
        case MessagePackFormat.str8: start = offset + 2; length = try self.length(1, at: offset + 1)
        case MessagePackFormat.str16: start = offset + 3; length = try self.length(2, at: offset + 1)
        case MessagePackFormat.str32: start = offset + 5; length = try self.length(4, at: offset + 1)
        default: return nil
        }
        _ = try payload(start, length)
        return (start, length)
    }

    func readString(at offset: Int) throws(ReadError) -> (String, end: Int) {
        guard let (start, length) = try stringBounds(at: offset) else {
            throw .mismatch(String.self, found: try byte(at: offset), at: offset)
        }
        guard Self.isValidUTF8(base + start, length) else { throw .invalidUTF8(at: offset) }
        let utf8 = UnsafeBufferPointer(start: (base + start).assumingMemoryBound(to: UInt8.self), count: length)
        return (String(decoding: utf8, as: UTF8.self), start + length)
    }

    /// Strict UTF-8 validation (no overlong forms, surrogates or code points
    /// past U+10FFFF), so that invalid input is an error rather than being
    /// silently repaired by `String(decoding:)`. ASCII runs go 8 bytes a step.
    static func isValidUTF8(_ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
        if isASCII(bytes, count) { return true }
        return isValidMultibyteUTF8(bytes, count)
    }

    /// Whether every byte is under 0x80: 16 bytes a step, then the last 8
    /// (overlapping bytes already checked) or, under 8 bytes, at most one
    /// 4-, one 2- and one 1-byte load, all within the `count` bytes.
    @inline(__always)
    static func isASCII(_ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
        let high: UInt64 = 0x8080_8080_8080_8080
        @inline(__always) func word<W: FixedWidthInteger>(_: W.Type, _ offset: Int) -> UInt64 {
            UInt64(truncatingIfNeeded: bytes.loadUnaligned(fromByteOffset: offset, as: W.self))
        }
        guard count >= 8 else {
            var bits: UInt64 = 0, index = 0
            if count & 4 != 0 { bits = word(UInt32.self, 0); index = 4 }
            if count & 2 != 0 { bits |= word(UInt16.self, index); index &+= 2 }
            if count & 1 != 0 { bits |= word(UInt8.self, index) }
            return bits & high == 0
        }
        var index = 0
        while index &+ 16 <= count {
            if (word(UInt64.self, index) | word(UInt64.self, index &+ 8)) & high != 0 { return false }
            index &+= 16
        }
        if index &+ 8 <= count {
            if word(UInt64.self, index) & high != 0 { return false }
            index &+= 8
        }
        return index == count || word(UInt64.self, count &- 8) & high == 0
    }

    private static func isValidMultibyteUTF8(_ bytes: UnsafeRawPointer, _ count: Int) -> Bool {
        var index = 0
        while index &+ 8 <= count {
            if bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 != 0 { break }
            index &+= 8
        }
        @inline(__always) func at(_ offset: Int) -> UInt8 { bytes.load(fromByteOffset: offset, as: UInt8.self) }
        @inline(__always) func isContinuation(_ byte: UInt8) -> Bool { byte & 0xc0 == 0x80 }
        while index < count {
            let lead = at(index)
            if lead < 0x80 {
                index &+= 1
            } else if lead < 0xc2 {
                return false
            } else if lead < 0xe0 {
                guard index + 1 < count, isContinuation(at(index + 1)) else { return false }
                index &+= 2
            } else if lead < 0xf0 {
                guard index + 2 < count else { return false }
                let second = at(index + 1)
                guard isContinuation(second), isContinuation(at(index + 2)) else { return false }
                if lead == 0xe0 && second < 0xa0 { return false }
                if lead == 0xed && second > 0x9f { return false }
                index &+= 3
            } else if lead < 0xf5 {
                guard index + 3 < count else { return false }
                let second = at(index + 1)
                guard isContinuation(second), isContinuation(at(index + 2)), isContinuation(at(index + 3)) else {
                    return false
                }
                if lead == 0xf0 && second < 0x90 { return false }
                if lead == 0xf4 && second > 0x8f { return false }
                index &+= 4
            } else {
                return false
            }
        }
        return true
    }

    /// Compares a `str` value with `key`'s UTF-8 bytes in place, without
    /// making a String: lengths first, then 8 bytes a step.
    @inline(__always)
    func stringEquals(start: Int, length: Int, _ key: UnsafeRawBufferPointer) -> Bool {
        guard key.count == length else { return false }
        guard length > 0, let keyBase = key.baseAddress else { return true }
        let value = base + start
        @inline(__always) func same<W: FixedWidthInteger>(_: W.Type, _ index: Int) -> Bool {
            value.loadUnaligned(fromByteOffset: index, as: W.self) == keyBase.loadUnaligned(fromByteOffset: index, as: W.self)
        }
        guard length >= 8 else {
            // Under 8 bytes: at most one 4-, one 2- and one 1-byte step, all
            // within the `length` bytes of both sides.
            var index = 0
            if length & 4 != 0 { guard same(UInt32.self, 0) else { return false }; index = 4 }
            if length & 2 != 0 { guard same(UInt16.self, index) else { return false }; index &+= 2 }
            if length & 1 != 0 { guard same(UInt8.self, index) else { return false } }
            return true
        }
        var index = 0
        while index &+ 8 <= length {
            guard same(UInt64.self, index) else { return false }
            index &+= 8
        }
        // The last 8 bytes, overlapping bytes already compared: still within
        // both sides, since length >= 8.
        return index == length || same(UInt64.self, length &- 8)
    }

    // MARK: Map keys

    /// Whether the key at `offset` has the UTF-8 bytes `name` (or, for a
    /// producer that keys a struct by integers, equals `intKey`), and where
    /// its value starts.
    @inline(__always)
    private func entry(
        at offset: Int, matches name: UnsafeRawBufferPointer, intKey: Int?, level: Int
    ) throws(ReadError) -> (Bool, value: Int) {
        if let (start, length) = try stringBounds(at: offset) {
            return (stringEquals(start: start, length: length, name), start + length)
        }
        let lead = try byte(at: offset)
        if let intKey, lead <= 0x7f || lead >= 0xcc && lead <= 0xd3 || lead >= 0xe0 {
            let (value, end) = try readInteger(at: offset, expected: Int.self)
            switch value {
            case .unsigned(let magnitude): return (Int(exactly: magnitude) == intKey, end)
            case .negative(let negative): return (Int(exactly: negative) == intKey, end)
            }
        }
        return (false, try skip(at: offset, level: level))
    }

    /// The offset of the value stored under a key in the map whose `count`
    /// entries start at `first` (a map at depth `level`), or nil. Tries the
    /// entry after the one found last at this depth first (see `KeyHint`),
    /// then that same entry again, and only then scans the map from its start.
    /// Inlined into the containers' lookups: the fast path is a few loads
    /// and compares, cheaper than the call.
    @inline(__always)
    func findValue(
        named name: UnsafeRawBufferPointer, intKey: Int?, first: Int, count: Int, level: Int
    ) throws(ReadError) -> Int? {
        let hint = self.hint(level: level)
        // The common case, inline: the fields are read in the order they were
        // written, the previous value's end is known, and the next key is a
        // fixstr. Bounds: `keyOffset < self.count` makes the lead byte
        // readable, and `length <= self.count - start` the key's bytes
        // (`start <= self.count` follows from the first check).
        // The first lookup in a map (no hint for it yet) tries its first entry.
        let isHinted = hint.pointee.firstEntry == first
        let index = isHinted ? hint.pointee.index &+ 1 : 0
        let keyOffset = isHinted ? hint.pointee.valueEnd : first
        if keyOffset >= 0, index < count {
            if keyOffset < self.count {
                let lead = base.load(fromByteOffset: keyOffset, as: UInt8.self)
                let start = keyOffset &+ 1, length = Int(lead & 0x1f)
                if lead & 0xe0 == MessagePackFormat.fixStr, length == name.count, length <= self.count &- start,
                   stringEquals(start: start, length: length, name) {
                    hint.pointee = KeyHint(firstEntry: first, index: index, keyOffset: keyOffset, valueOffset: start &+ length)
                    return start &+ length
                }
            }
        }
        return try findValueByScanning(named: name, intKey: intKey, first: first, count: count, level: level)
    }

    @inline(never)
    private func findValueByScanning(
        named name: UnsafeRawBufferPointer, intKey: Int?, first: Int, count: Int, level: Int
    ) throws(ReadError) -> Int? {
        let hint = self.hint(level: level)
        if hint.pointee.firstEntry == first {
            let next = hint.pointee.index + 1
            if next < count {
                let keyOffset = hint.pointee.valueEnd >= 0
                    ? hint.pointee.valueEnd : try skip(at: hint.pointee.valueOffset, level: level)
                let (matched, value) = try entry(at: keyOffset, matches: name, intKey: intKey, level: level)
                if matched {
                    hint.pointee = KeyHint(firstEntry: first, index: next, keyOffset: keyOffset, valueOffset: value)
                    return value
                }
            }
            let (matched, value) = try entry(at: hint.pointee.keyOffset, matches: name, intKey: intKey, level: level)
            if matched { return value }
        }
        var keyOffset = first
        for index in 0..<count {
            let (matched, value) = try entry(at: keyOffset, matches: name, intKey: intKey, level: level)
            if matched {
                hint.pointee = KeyHint(firstEntry: first, index: index, keyOffset: keyOffset, valueOffset: value)
                return value
            }
            keyOffset = try skip(at: value, level: level)
        }
        return nil
    }

    /// The bytes of a `bin` value, or of an array of integers 0...255 (some
    /// producers send byte arrays that way).
    func readBytes<Result>(
        at offset: Int, level: Int, expected: Any.Type,
        _ make: (UnsafeRawBufferPointer) -> Result
    ) throws(ReadError) -> (Result, end: Int) {
        let lead = try byte(at: offset)
        let start: Int, length: Int
        switch lead {
        case MessagePackFormat.bin8: start = offset + 2; length = try self.length(1, at: offset + 1)
        case MessagePackFormat.bin16: start = offset + 3; length = try self.length(2, at: offset + 1)
        case MessagePackFormat.bin32: start = offset + 5; length = try self.length(4, at: offset + 1)
        default:
            guard let (count, first) = try arrayHeader(at: offset, level: level) else {
                throw .mismatch(expected, found: lead, at: offset)
            }
            var bytes = [UInt8]()
            bytes.reserveCapacity(count)
            var position = first
            for _ in 0..<count {
                let (element, end) = try readInteger(UInt8.self, at: position)
                bytes.append(element)
                position = end
            }
            return (bytes.withUnsafeBytes(make), position)
        }
        let end = try payload(start, length)
        return (make(UnsafeRawBufferPointer(start: base + start, count: length)), end)
    }

    // MARK: Timestamps

    func readDate(at offset: Int) throws(ReadError) -> (Date, end: Int) {
        let lead = try byte(at: offset)
        let length: Int, typeOffset: Int
        switch lead {
        case MessagePackFormat.fixExt4: length = 4; typeOffset = offset + 1
        case MessagePackFormat.fixExt8: length = 8; typeOffset = offset + 1
        case MessagePackFormat.fixExt1: length = 1; typeOffset = offset + 1
        case MessagePackFormat.fixExt2: length = 2; typeOffset = offset + 1
        case MessagePackFormat.fixExt16: length = 16; typeOffset = offset + 1
        case MessagePackFormat.ext8: length = try self.length(1, at: offset + 1); typeOffset = offset + 2
        case MessagePackFormat.ext16: length = try self.length(2, at: offset + 1); typeOffset = offset + 3
        case MessagePackFormat.ext32: length = try self.length(4, at: offset + 1); typeOffset = offset + 5
        default: throw .mismatch(Date.self, found: lead, at: offset)
        }
        let type = Int8(bitPattern: try byte(at: typeOffset))
        guard type == MessagePackFormat.timestampExtensionType else {
            throw .invalidTimestamp("extension type \(type) is not -1", at: offset)
        }
        let data = typeOffset + 1
        let end = try payload(data, length)
        let seconds: Int64, nanoseconds: UInt32
        switch length {
        case 4:
            seconds = Int64(try load(UInt32.self, at: data))
            nanoseconds = 0
        case 8:
            let packed = try load(UInt64.self, at: data)
            seconds = Int64(packed & 0x3_ffff_ffff)
            nanoseconds = UInt32(truncatingIfNeeded: packed >> 34)
        case 12:
            nanoseconds = try load(UInt32.self, at: data)
            seconds = try load(Int64.self, at: data + 4)
        default:
            throw .invalidTimestamp("length \(length) is not 4, 8 or 12", at: offset)
        }
        guard nanoseconds < 1_000_000_000 else {
            throw .invalidTimestamp("nanoseconds \(nanoseconds) exceed 999999999", at: offset)
        }
        return (Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1_000_000_000), end)
    }

    // MARK: Containers

    /// A map's entry count and first key, or nil when the value is no map.
    /// The count is checked against the remaining input (an entry takes at
    /// least two bytes) and the depth against `maxDepth` before anyone
    /// allocates for it.
    func mapHeader(at offset: Int, level: Int) throws(ReadError) -> (count: Int, first: Int)? {
        let lead = try byte(at: offset)
        let count: Int, first: Int
        switch lead {
        case MessagePackFormat.fixMap...MessagePackFormat.fixMapMax: count = Int(lead & 0x0f); first = offset + 1
        case MessagePackFormat.map16: count = try length(2, at: offset + 1); first = offset + 3
        case MessagePackFormat.map32: count = try length(4, at: offset + 1); first = offset + 5
        default: return nil
        }
        try checkContainer(count: count, minimumSize: 2, first: first, level: level, at: offset)
        return (count, first)
    }

    /// An array's element count and first element, or nil when the value is no array.
    func arrayHeader(at offset: Int, level: Int) throws(ReadError) -> (count: Int, first: Int)? {
        let lead = try byte(at: offset)
        let count: Int, first: Int
        switch lead {
        case MessagePackFormat.fixArray...MessagePackFormat.fixArrayMax: count = Int(lead & 0x0f); first = offset + 1
        case MessagePackFormat.array16: count = try length(2, at: offset + 1); first = offset + 3
        case MessagePackFormat.array32: count = try length(4, at: offset + 1); first = offset + 5
        default: return nil
        }
        try checkContainer(count: count, minimumSize: 1, first: first, level: level, at: offset)
        return (count, first)
    }

    /// `level` is the depth of the container itself (the top-level value's
    /// container is level 1).
    @inline(__always)
    private func checkContainer(count: Int, minimumSize: Int, first: Int, level: Int, at offset: Int) throws(ReadError) {
        guard level <= maxDepth else { throw .tooDeep(maxDepth, at: offset) }
        guard first <= self.count, count <= (self.count - first) / minimumSize else {
            throw .lengthExceedsInput(count, at: offset)
        }
    }

    /// Steps over one value (of any type, validated structurally) and returns
    /// where it ends. `level` is the depth of the container holding it.
    func skip(at offset: Int, level: Int) throws(ReadError) -> Int {
        let lead = try byte(at: offset)
        switch lead {
        case 0x00...0x7f, 0xe0...0xff, MessagePackFormat.nil, MessagePackFormat.false, MessagePackFormat.true:
            return offset + 1
        case MessagePackFormat.fixMap...MessagePackFormat.fixMapMax, MessagePackFormat.map16, MessagePackFormat.map32:
            let (count, first) = try mapHeader(at: offset, level: level + 1)!
            return try skipValues(from: first, count: count * 2, level: level + 1)
        case MessagePackFormat.fixArray...MessagePackFormat.fixArrayMax,
             MessagePackFormat.array16, MessagePackFormat.array32:
            let (count, first) = try arrayHeader(at: offset, level: level + 1)!
            return try skipValues(from: first, count: count, level: level + 1)
        case MessagePackFormat.fixStr...MessagePackFormat.fixStrMax:
            return try payload(offset + 1, Int(lead & 0x1f))
        case MessagePackFormat.neverUsed:
            throw .reservedByte(at: offset)
        case MessagePackFormat.bin8, MessagePackFormat.str8:
            return try payload(offset + 2, try length(1, at: offset + 1))
        case MessagePackFormat.bin16, MessagePackFormat.str16:
            return try payload(offset + 3, try length(2, at: offset + 1))
        case MessagePackFormat.bin32, MessagePackFormat.str32:
            return try payload(offset + 5, try length(4, at: offset + 1))
        case MessagePackFormat.ext8: return try payload(offset + 3, try length(1, at: offset + 1))
        case MessagePackFormat.ext16: return try payload(offset + 4, try length(2, at: offset + 1))
        case MessagePackFormat.ext32: return try payload(offset + 6, try length(4, at: offset + 1))
        case MessagePackFormat.float32: return try span(offset, 5)
        case MessagePackFormat.float64: return try span(offset, 9)
        case MessagePackFormat.uint8, MessagePackFormat.int8: return try span(offset, 2)
        case MessagePackFormat.uint16, MessagePackFormat.int16: return try span(offset, 3)
        case MessagePackFormat.uint32, MessagePackFormat.int32: return try span(offset, 5)
        case MessagePackFormat.uint64, MessagePackFormat.int64: return try span(offset, 9)
        case MessagePackFormat.fixExt1: return try span(offset, 3)
        case MessagePackFormat.fixExt2: return try span(offset, 4)
        case MessagePackFormat.fixExt4: return try span(offset, 6)
        case MessagePackFormat.fixExt8: return try span(offset, 10)
        default: return try span(offset, 18) // fixext 16
        }
    }

    private func skipValues(from offset: Int, count: Int, level: Int) throws(ReadError) -> Int {
        var position = offset
        for _ in 0..<count {
            position = try skip(at: position, level: level)
        }
        return position
    }
}
