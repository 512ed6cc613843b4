import CortMessagePack
/// Writes MessagePack values into memory that was sized beforehand.
///
/// The envelope is on every call, so `WireCodec` first adds up the exact size
/// (the `size` functions here), grows the caller's buffer once, and then writes
/// through this cursor: no per-field capacity checks or allocations.
struct WireWriter {
    private var cursor: UnsafeMutablePointer<UInt8>
    private let end: UnsafeMutablePointer<UInt8>

    init(_ start: UnsafeMutablePointer<UInt8>, count: Int) {
        cursor = start
        end = start + count
    }

    /// Checks that the size pass and the write pass agreed. They read the same
    /// immutable values, so they always do; this guards future edits.
    func finish() {
        precondition(cursor == end, "WireWriter: size and written bytes differ")
    }

    // MARK: sizes

    static func uintSize(_ value: UInt64) -> Int {
        switch value {
        case 0...0x7f: 1
        case 0x80...0xff: 2
        case 0x100...0xffff: 3
        case 0x1_0000...0xffff_ffff: 5
        default: 9
        }
    }

    static func stringSize(_ utf8Count: Int) -> Int {
        switch utf8Count {
        case 0...31: 1 + utf8Count
        case 32...0xff: 2 + utf8Count
        case 0x100...0xffff: 3 + utf8Count
        default: 5 + utf8Count
        }
    }

    static func binSize(_ count: Int) -> Int {
        switch count {
        case 0...0xff: 2 + count
        case 0x100...0xffff: 3 + count
        default: 5 + count
        }
    }

    /// The size of an array or map header.
    static func containerHeaderSize(_ count: Int) -> Int {
        switch count {
        case 0...15: 1
        case 16...0xffff: 3
        default: 5
        }
    }

    // MARK: writing

    private mutating func byte(_ value: UInt8) {
        assert(cursor < end)
        cursor.pointee = value
        cursor += 1
    }

    private mutating func big<T: FixedWidthInteger>(_ value: T) {
        assert(end - cursor >= MemoryLayout<T>.size)
        UnsafeMutableRawPointer(cursor).storeBytes(of: value.bigEndian, as: T.self)
        cursor += MemoryLayout<T>.size
    }

    private mutating func bytes(_ source: UnsafeBufferPointer<UInt8>) {
        guard let base = source.baseAddress, !source.isEmpty else { return }
        assert(end - cursor >= source.count)
        cursor.update(from: base, count: source.count)
        cursor += source.count
    }

    private static func checkedLength(_ count: Int) -> UInt32 {
        // A frame this large is far beyond any limit ZeroMQ lets through; the
        // format itself cannot express it.
        precondition(count <= Int(UInt32.max), "a MessagePack string, bin or container holds at most 2^32-1 items")
        return UInt32(truncatingIfNeeded: count)
    }

    mutating func writeUInt(_ value: UInt64) {
        switch value {
        case 0...0x7f: byte(UInt8(truncatingIfNeeded: value))
        case 0x80...0xff: byte(MessagePackFormat.uint8); byte(UInt8(truncatingIfNeeded: value))
        case 0x100...0xffff: byte(MessagePackFormat.uint16); big(UInt16(truncatingIfNeeded: value))
        case 0x1_0000...0xffff_ffff: byte(MessagePackFormat.uint32); big(UInt32(truncatingIfNeeded: value))
        default: byte(MessagePackFormat.uint64); big(value)
        }
    }

    mutating func writeNil() { byte(MessagePackFormat.nil) }

    mutating func writeString(_ string: String) {
        let count = string.utf8.count
        switch count {
        case 0...31: byte(MessagePackFormat.fixStr | UInt8(truncatingIfNeeded: count))
        case 32...0xff: byte(MessagePackFormat.str8); byte(UInt8(truncatingIfNeeded: count))
        case 0x100...0xffff: byte(MessagePackFormat.str16); big(UInt16(truncatingIfNeeded: count))
        default: byte(MessagePackFormat.str32); big(Self.checkedLength(count))
        }
        let copied: Void? = string.utf8.withContiguousStorageIfAvailable { bytes($0) }
        if copied == nil {
            for unit in string.utf8 { byte(unit) }
        }
    }

    mutating func writeOptionalString(_ string: String?) {
        if let string { writeString(string) } else { writeNil() }
    }

    mutating func writeBin(_ value: [UInt8]) {
        let count = value.count
        switch count {
        case 0...0xff: byte(MessagePackFormat.bin8); byte(UInt8(truncatingIfNeeded: count))
        case 0x100...0xffff: byte(MessagePackFormat.bin16); big(UInt16(truncatingIfNeeded: count))
        default: byte(MessagePackFormat.bin32); big(Self.checkedLength(count))
        }
        value.withUnsafeBufferPointer { bytes($0) }
    }

    mutating func writeOptionalBin(_ value: [UInt8]?) {
        if let value { writeBin(value) } else { writeNil() }
    }

    mutating func writeArrayHeader(_ count: Int) {
        switch count {
        case 0...15: byte(MessagePackFormat.fixArray | UInt8(truncatingIfNeeded: count))
        case 16...0xffff: byte(MessagePackFormat.array16); big(UInt16(truncatingIfNeeded: count))
        default: byte(MessagePackFormat.array32); big(Self.checkedLength(count))
        }
    }

    mutating func writeMapHeader(_ count: Int) {
        switch count {
        case 0...15: byte(MessagePackFormat.fixMap | UInt8(truncatingIfNeeded: count))
        case 16...0xffff: byte(MessagePackFormat.map16); big(UInt16(truncatingIfNeeded: count))
        default: byte(MessagePackFormat.map32); big(Self.checkedLength(count))
        }
    }
}
