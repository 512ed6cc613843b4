internal import CMessagePack
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An open map or array whose header is still a one-byte placeholder.
struct EncodingFrame {
    /// Offset of the placeholder header byte; also identifies the frame.
    var headerOffset: Int
    /// Entries (map) or elements (array) written so far.
    var count: Int
    var isMap: Bool
    /// Where a value handed out through `superEncoder()` must start, or -1.
    /// If nothing was written there when the container moves on, a nil is.
    var pendingValueAt: Int
}

/// The `Encoder` that every value of one `encode` call sees.
///
/// One object serves the whole tree (it is also the single-value container),
/// so nesting costs no allocation; containers refer to their frame by index.
/// The byte buffer, the frame stack and the writer state live in one heap
/// block owned by this object, so an `Encoder` that a misbehaving `encode(to:)`
/// keeps alive can never write to freed memory.
final class MessagePackEncodingStream: Encoder, SingleValueEncodingContainer {
    let writer: UnsafeMutablePointer<cort_mp_writer>
    private(set) var frames: UnsafeMutablePointer<EncodingFrame>
    private var frameCapacity: Int
    private var framesOnHeap = false
    private(set) var frameCount = 0
    /// Frames at or above this index belong to the value being encoded now.
    private var valueBase = 0
    private let block: UnsafeMutableRawPointer

    var codingPath: [any CodingKey] = []
    private var sendableUserInfo: [CodingUserInfoKey: any Sendable]
    var userInfo: [CodingUserInfoKey: Any] { sendableUserInfo }

    private static let initialFrames = 16
    private static let initialBytes = 512

    init(userInfo: [CodingUserInfoKey: any Sendable]) {
        sendableUserInfo = userInfo
        let writerSize = (MemoryLayout<cort_mp_writer>.stride + 15) & ~15
        let framesSize = MemoryLayout<EncodingFrame>.stride * Self.initialFrames
        block = .allocate(byteCount: writerSize + framesSize + Self.initialBytes, alignment: 16)
        writer = block.bindMemory(to: cort_mp_writer.self, capacity: 1)
        frames = (block + writerSize).bindMemory(to: EncodingFrame.self, capacity: Self.initialFrames)
        frameCapacity = Self.initialFrames
        cort_mp_writer_init(writer, block + writerSize + framesSize, Self.initialBytes)
    }

    /// A stream whose buffer grew past this is not kept for reuse, so that
    /// one large message does not pin its memory for the encoder's lifetime.
    private static let maxKeptBytes = 64 * 1024

    /// Whether this stream may go back to the encoder's cache.
    var isWorthKeeping: Bool { writer.pointee.capacity <= Self.maxKeptBytes }

    /// Makes a stream from the cache ready for the next call: empty output,
    /// no open frames, no recorded misuse. The buffer and the frame stack
    /// keep their memory.
    func reset(userInfo: [CodingUserInfoKey: any Sendable]) {
        writer.pointee.size = 0
        writer.pointee.failed = 0
        frameCount = 0
        valueBase = 0
        if !codingPath.isEmpty { codingPath = [] }
        if misuse != nil { misuse = nil }
        // Most coders have no userInfo: skip the retain and release of
        // assigning one empty dictionary over another.
        if !(userInfo.isEmpty && sendableUserInfo.isEmpty) { sendableUserInfo = userInfo }
    }

    deinit {
        cort_mp_writer_destroy(writer)
        if framesOnHeap { frames.deallocate() }
        block.deallocate()
    }

    // MARK: Encoder

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let (index, offset) = openOrReuseFrame(base: valueBase, isMap: true)
        return KeyedEncodingContainer(MessagePackKeyedEncodingContainer<Key>(
            stream: self, frameIndex: index, headerOffset: offset, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let (index, offset) = openOrReuseFrame(base: valueBase, isMap: false)
        return MessagePackUnkeyedEncodingContainer(
            stream: self, frameIndex: index, headerOffset: offset, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { self }

    // MARK: Frames

    /// Opens the container of the value whose frames start at `base`, or
    /// returns the one it already opened: a subclass that calls
    /// `super.encode(to: encoder)` asks twice and both write into one map.
    func openOrReuseFrame(base: Int, isMap: Bool) -> (index: Int, headerOffset: Int) {
        if frameCount > base {
            closeFrames(downTo: base + 1)
            if frames[base].isMap != isMap {
                recordMisuse("a value asked for both a keyed and an unkeyed container")
            }
            return (base, frames[base].headerOffset)
        }
        return pushFrame(isMap: isMap)
    }

    /// Why this encoding cannot be used, when a custom `encode(to:)` used its
    /// containers out of nesting order. Not a trap: a user's type must not be
    /// able to crash the process that encodes it.
    private(set) var misuse: String?

    private func recordMisuse(_ reason: String) {
        if misuse == nil { misuse = reason }
    }

    func pushFrame(isMap: Bool) -> (index: Int, headerOffset: Int) {
        if frameCount == frameCapacity { growFrames() }
        let offset = writer.pointee.size
        cort_mp_open_container(writer, isMap ? MessagePackFormat.fixMap : MessagePackFormat.fixArray)
        frames[frameCount] = EncodingFrame(headerOffset: offset, count: 0, isMap: isMap, pendingValueAt: -1)
        frameCount += 1
        return (frameCount - 1, offset)
    }

    private func growFrames() {
        let capacity = frameCapacity * 2
        let grown = UnsafeMutablePointer<EncodingFrame>.allocate(capacity: capacity)
        grown.moveInitialize(from: frames, count: frameCount)
        if framesOnHeap { frames.deallocate() }
        frames = grown
        frameCapacity = capacity
        framesOnHeap = true
    }

    /// Called before every entry of a container: finishes the nested
    /// containers it left open and counts the entry.
    @inline(__always)
    func beginEntry(frame index: Int, headerOffset: Int) {
        if frameCount != index + 1 || frames[index].pendingValueAt >= 0 {
            settle(frame: index)
        }
        guard index < frameCount, frames[index].headerOffset == headerOffset else {
            // The bytes written from here on are garbage, but memory-safe; the
            // encode call throws instead of returning them.
            return recordMisuse("a container was used after its parent moved on")
        }
        frames[index].count += 1
    }

    private func settle(frame index: Int) {
        if frameCount > index + 1 { closeFrames(downTo: index + 1) }
        if index < frameCount { fillPendingValue(index) }
    }

    private func fillPendingValue(_ index: Int) {
        let pending = frames[index].pendingValueAt
        guard pending >= 0 else { return }
        if writer.pointee.size == pending { cort_mp_pack_nil(writer) }
        frames[index].pendingValueAt = -1
    }

    func markPendingValue(frame index: Int) {
        frames[index].pendingValueAt = writer.pointee.size
    }

    func closeFrames(downTo target: Int) {
        while frameCount > target {
            fillPendingValue(frameCount - 1)
            frameCount -= 1
            let frame = frames[frameCount]
            cort_mp_close_container(writer, frame.headerOffset, frame.count, frame.isMap ? 1 : 0)
        }
    }

    // MARK: Values

    func encodeTopLevel<T: Encodable>(_ value: T) throws {
        try encodeValue(value, path: { [] })
        closeFrames(downTo: 0)
    }

    /// Encodes a non-primitive (or generic) value. `path` is evaluated only
    /// when the value's own `encode(to:)` runs, so the fast paths never build
    /// a coding path.
    func encodeValue<T: Encodable>(_ value: T, path: () -> [any CodingKey]) throws {
        // Metatype checks cost a pointer compare; the primitives come first
        // because generic code (Array, Optional, Dictionary) reaches them here.
        if T.self == String.self { return try writeString(same(value, as: String.self), path: path) }
        if T.self == Int.self { return writeInt(same(value, as: Int.self)) }
        if T.self == Double.self { return writeDouble(same(value, as: Double.self)) }
        if T.self == Bool.self { return writeBool(same(value, as: Bool.self)) }
        if T.self == [UInt8].self { return try writeBinary(same(value, as: [UInt8].self), path: path) }
        if T.self == Data.self { return try writeBinary(same(value, as: Data.self), path: path) }
        // Call metadata, in every envelope: before the rarer primitives.
        if T.self == [String: String].self { return try writeStringMap(same(value, as: [String: String].self), path: path) }
        if T.self == Date.self { return try writeDate(same(value, as: Date.self), path: path) }
        if T.self == Int64.self { return writeInt(same(value, as: Int64.self)) }
        if T.self == UInt64.self { return writeUInt(same(value, as: UInt64.self)) }
        if T.self == UInt8.self { return writeUInt(same(value, as: UInt8.self)) }
        if T.self == Int32.self { return writeInt(same(value, as: Int32.self)) }
        if T.self == UInt32.self { return writeUInt(same(value, as: UInt32.self)) }
        if T.self == UInt.self { return writeUInt(same(value, as: UInt.self)) }
        if T.self == Float.self { return writeFloat(same(value, as: Float.self)) }
        if T.self == Int16.self { return writeInt(same(value, as: Int16.self)) }
        if T.self == UInt16.self { return writeUInt(same(value, as: UInt16.self)) }
        if T.self == Int8.self { return writeInt(same(value, as: Int8.self)) }
        // A Dictionary is one word: the size test spares structs the
        // conformance lookup.
        if MemoryLayout<T>.size == MemoryLayout<[String: String]>.size,
           let map = value as? any MessagePackEncodableMap {
            return try map.encodeMessagePackMap(into: self, path: path)
        }
        try encodeWithOwnCoding(value, path: path())
    }

    /// `value` as `V` once the caller has checked that `T` is `V`: a
    /// bit-for-bit reinterpretation, where `as! V` in unspecialized generic
    /// code would be a runtime cast call.
    @inline(__always)
    private func same<T, V>(_ value: T, as _: V.Type) -> V {
        assert(T.self == V.self)
        return unsafeBitCast(value, to: V.self)
    }

    private func encodeWithOwnCoding<T: Encodable>(_ value: T, path: [any CodingKey]) throws {
        let savedBase = valueBase
        valueBase = frameCount
        // The top-level value (the common case) has an empty path over an
        // empty one: skip the array's retains and releases.
        let swapsPath = !(path.isEmpty && codingPath.isEmpty)
        let savedPath = swapsPath ? codingPath : []
        if swapsPath { codingPath = path }
        let start = writer.pointee.size
        defer {
            valueBase = savedBase
            if swapsPath { codingPath = savedPath }
        }
        try value.encode(to: self)
        closeFrames(downTo: valueBase)
        // A value that asked for no container at all: like JSONEncoder's `{}`.
        if writer.pointee.size == start { cort_mp_pack_map(writer, 0) }
    }

    // MARK: Primitive writers

    @inline(__always) func writeNil() { cort_mp_pack_nil(writer) }
    @inline(__always) func writeBool(_ value: Bool) { cort_mp_pack_bool(writer, value ? 1 : 0) }
    @inline(__always) func writeInt<I: FixedWidthInteger & SignedInteger>(_ value: I) {
        cort_mp_pack_int64(writer, Int64(value))
    }
    @inline(__always) func writeUInt<I: FixedWidthInteger & UnsignedInteger>(_ value: I) {
        cort_mp_pack_uint64(writer, UInt64(value))
    }
    @inline(__always) func writeFloat(_ value: Float) { cort_mp_pack_float(writer, value) }
    @inline(__always) func writeDouble(_ value: Double) { cort_mp_pack_double(writer, value) }

    /// Reads the UTF-8 in place through the borrowed `utf8` view (any native
    /// or small string); only a string without contiguous UTF-8 is copied
    /// for `withUTF8`, so the common case retains and releases nothing.
    @inline(__always)
    func writeString(_ value: String, path: () -> [any CodingKey]) throws {
        let writer = self.writer
        let pack = { (utf8: UnsafeBufferPointer<UInt8>) -> Bool in
            guard utf8.count <= MessagePackFormat.maxLength else { return false }
            cort_mp_pack_str(writer, utf8.baseAddress, utf8.count)
            return true
        }
        let written: Bool
        if let inPlace = value.utf8.withContiguousStorageIfAvailable(pack) {
            written = inPlace
        } else {
            var copy = value
            written = copy.withUTF8(pack)
        }
        if !written { throw Self.tooLong(value, "string", path()) }
    }

    /// Writes a map key. Keys come from `CodingKey.stringValue`, which is
    /// never anywhere near 4 GiB; a longer one is cut to an empty key rather
    /// than make every key write throwing. The key is consumed, so
    /// `withUTF8` needs no copy of it.
    @inline(__always)
    func writeKey(_ key: consuming String) {
        key.withUTF8 { utf8 in
            _ = cort_mp_pack_str(writer, utf8.baseAddress, utf8.count <= MessagePackFormat.maxLength ? utf8.count : 0)
        }
    }

    /// `[String: String]` (call metadata) without generic dictionary code.
    func writeStringMap(_ value: [String: String], path: () -> [any CodingKey]) throws {
        cort_mp_pack_map(writer, value.count)
        for (key, element) in value {
            writeKey(key)
            try writeString(element, path: { path() + [MessagePackCodingKey(stringValue: key)] })
        }
    }

    func writeBinary(_ value: [UInt8], path: () -> [any CodingKey]) throws {
        guard value.count <= MessagePackFormat.maxLength else { throw Self.tooLong(value, "binary", path()) }
        value.withUnsafeBufferPointer { bytes in
            _ = cort_mp_pack_bin(writer, bytes.baseAddress, bytes.count)
        }
    }

    func writeBinary(_ value: Data, path: () -> [any CodingKey]) throws {
        guard value.count <= MessagePackFormat.maxLength else { throw Self.tooLong(value, "binary", path()) }
        value.withUnsafeBytes { bytes in
            _ = cort_mp_pack_bin(writer, bytes.baseAddress, bytes.count)
        }
    }

    /// Dates travel as the timestamp extension: whole seconds (floored, so
    /// times before 1970 keep a positive nanosecond part) and nanoseconds.
    func writeDate(_ value: Date, path: () -> [any CodingKey]) throws {
        let interval = value.timeIntervalSince1970
        let seconds = interval.rounded(.down)
        guard interval.isFinite, seconds >= -9.223372036854775808e18, seconds < 9.223372036854775808e18 else {
            throw EncodingError.invalidValue(value, EncodingError.Context(
                codingPath: path(),
                debugDescription: "Date \(interval) is outside the range of a MessagePack timestamp",
                underlyingError: MessagePackError(code: .invalidValue, message: "date outside the timestamp range")))
        }
        var wholeSeconds = Int64(seconds)
        var nanoseconds = ((interval - seconds) * 1_000_000_000).rounded()
        if nanoseconds >= 1_000_000_000 {
            nanoseconds = 0
            wholeSeconds &+= 1
        }
        cort_mp_pack_timestamp(writer, wholeSeconds, UInt32(max(0, nanoseconds)))
    }

    private static func tooLong(_ value: Any, _ what: String, _ path: [any CodingKey]) -> EncodingError {
        EncodingError.invalidValue(value, EncodingError.Context(
            codingPath: path,
            debugDescription: "A MessagePack \(what) holds at most 4 GiB",
            underlyingError: MessagePackError(code: .invalidValue, message: "\(what) longer than 2^32-1 bytes")))
    }

    // MARK: SingleValueEncodingContainer

    func encodeNil() throws { writeNil() }
    func encode(_ value: Bool) throws { writeBool(value) }
    func encode(_ value: String) throws { try writeString(value, path: { codingPath }) }
    func encode(_ value: Double) throws { writeDouble(value) }
    func encode(_ value: Float) throws { writeFloat(value) }
    func encode(_ value: Int) throws { writeInt(value) }
    func encode(_ value: Int8) throws { writeInt(value) }
    func encode(_ value: Int16) throws { writeInt(value) }
    func encode(_ value: Int32) throws { writeInt(value) }
    func encode(_ value: Int64) throws { writeInt(value) }
    func encode(_ value: UInt) throws { writeUInt(value) }
    func encode(_ value: UInt8) throws { writeUInt(value) }
    func encode(_ value: UInt16) throws { writeUInt(value) }
    func encode(_ value: UInt32) throws { writeUInt(value) }
    func encode(_ value: UInt64) throws { writeUInt(value) }
    func encode<T: Encodable>(_ value: T) throws { try encodeValue(value, path: { codingPath }) }
}
