import CortMessagePack

/// Several envelopes in one frame: `[1, 10, 0, [bin, …]]`, each bin a whole
/// envelope (docs/PROTOCOL.md, "batch").
///
/// A caller sends the requests it has ready for one node as one batch, and a
/// node answers a caller that sends batches with batches: one ZeroMQ message
/// (one frame to route, read and wake a thread for) for several calls. Each
/// entry is read, checked and answered as the envelope it would be alone;
/// an entry that is wrong fails only its own call.
///
/// ```swift
/// var batch = WireBatchWriter()
/// batch.append(firstRequest)
/// batch.append(secondRequest)
/// let frame = batch.finish()
/// let read = frame.withUnsafeBytes { WireBatch.read($0, limits: WireLimits()) }
/// // read.entries: where each request is in `frame`; read.error: nil
/// ```
package struct WireBatch {
    /// Where each entry's envelope is in the frame. When ``error`` is set,
    /// the entries delimited before the fault (at most the limit's count):
    /// a reader acts on none of them, but answers their calls.
    package var entries: [Range<Int>]
    /// What is wrong with the batch as a whole, or nil.
    package var error: WireError?

    /// Whether `bytes` is a batch frame of this version (read from its
    /// header only, in any of the formats a reader accepts: a batch whose
    /// header is written otherwise than cort writes it is still a batch, and
    /// its requests are answered as such).
    package static func isBatch(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // As cort writes every envelope (a fixarray, version 1, the kind in
        // one byte; `94 01 0a` for a batch), without reading further.
        if bytes.count >= 3, bytes[0] & 0xf0 == 0x90, bytes[1] == UInt8(WireFormat.version), bytes[2] < 0x80 {
            return bytes[2] == UInt8(WireFormat.Kind.batch.rawValue)
        }
        return WireCodec.header(of: bytes)?.kind == .batch
    }

    /// The bytes of `entry` in `frame`, or the whole frame when `entry` is nil.
    package static func bytes(of entry: Range<Int>?, in frame: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard let entry else { return frame }
        return UnsafeRawBufferPointer(rebasing: frame[entry])
    }

    /// The kind and id of each entry whose header is readable (those of a
    /// malformed batch, to tell their calls), `frame` being the batch read.
    func headers(in frame: UnsafeRawBufferPointer) -> [(kind: WireFormat.Kind, id: UInt64)] {
        entries.compactMap { WireCodec.header(of: Self.bytes(of: $0, in: frame)) }
    }

    /// Reads a batch frame's entries, without reading the entries themselves.
    ///
    /// The batch is refused as a whole (``error``) when its id is not 0, it
    /// holds no entries or more than `limits.maxBatchEntries`, an entry is
    /// not a bin, or bytes follow it.
    package static func read(_ bytes: UnsafeRawBufferPointer, limits: WireLimits) -> WireBatch {
        var batch = WireBatch(entries: [], error: nil)
        guard !bytes.isEmpty else {
            batch.error = WireError(id: nil, code: .protocolError, message: "empty frame")
            return batch
        }
        var reader = WireReader(bytes)
        do throws(WireError) {
            let fieldCount = try reader.readArrayHeader("envelope", bounded: false)
            let (version, kind, id) = (try reader.readUInt("version"), try reader.readUInt("kind"),
                                       try reader.readUInt("id"))
            guard fieldCount == 4, version == WireFormat.version, kind == WireFormat.Kind.batch.rawValue, id == 0 else {
                throw reader.error("a batch is [\(WireFormat.version), 10, 0, entries]; this one starts "
                                   + "[\(version), \(kind), \(id)] with \(fieldCount) elements")
            }
            let count = try reader.readArrayHeader("entries")
            guard count > 0 else { throw reader.error("a batch with no entries") }
            batch.entries.reserveCapacity(min(count, limits.maxBatchEntries))
            while batch.entries.count < min(count, limits.maxBatchEntries) {
                batch.entries.append(try reader.readBinRange("entry"))
            }
            guard count <= limits.maxBatchEntries else {
                throw reader.error("a batch of \(count) entries, more than the limit of \(limits.maxBatchEntries)")
            }
            guard reader.remaining == 0 else { throw reader.error("\(reader.remaining) bytes after the batch") }
        } catch {
            batch.error = WireError(id: nil, code: error.code, message: error.message)
        }
        return batch
    }
}

/// Writes a batch frame (``WireBatch``): envelopes already encoded, appended
/// one by one, up to ``maxEntries`` and about ``maxBytes``.
///
/// The entries' array header is written as an array 16 (`dc`) whatever the
/// count, so that the count goes in last without moving the entries.
package struct WireBatchWriter {
    /// The most entries a writer takes: the reader's default limit.
    package static let maxEntries = WireLimits().maxBatchEntries
    /// The size a batch stops growing at; a larger envelope goes alone.
    package static let maxBytes = 64 << 10
    /// `[1, 10, 0, ` and an array 16 header with its count to fill in.
    private static let header: [UInt8] = [0x94, UInt8(WireFormat.version), UInt8(WireFormat.Kind.batch.rawValue), 0x00,
                                          MessagePackFormat.array16, 0, 0]

    private var frame: [UInt8] = []
    /// Where the only entry starts, while there is one.
    private var firstEntry = 0
    package private(set) var count = 0

    package init() {}

    /// Whether an envelope of `size` bytes still fits.
    package func fits(_ size: Int) -> Bool {
        count == 0 || (count < Self.maxEntries && frame.count + 5 + size <= Self.maxBytes)
    }

    /// Appends one envelope (whether it ``fits(_:)`` is the writer's caller's to check).
    package mutating func append(_ envelope: UnsafeRawBufferPointer) {
        if count == 0 {
            frame.reserveCapacity(Self.header.count + 5 + envelope.count)
            frame.append(contentsOf: Self.header)
        }
        let size = envelope.count
        // Byte by byte: an array literal here would be allocated.
        switch size {
        case ..<0x100:
            frame.append(MessagePackFormat.bin8)
        case ..<0x10000:
            frame.append(MessagePackFormat.bin16)
            frame.append(UInt8(size >> 8))
        default:
            precondition(size <= Int(UInt32.max), "an envelope of \(size) bytes does not fit in a bin")
            frame.append(MessagePackFormat.bin32)
            frame.append(UInt8(truncatingIfNeeded: size >> 24))
            frame.append(UInt8(truncatingIfNeeded: size >> 16))
            frame.append(UInt8(truncatingIfNeeded: size >> 8))
        }
        frame.append(UInt8(truncatingIfNeeded: size))
        if count == 0 { firstEntry = frame.count }
        frame.append(contentsOf: envelope)
        count += 1
    }

    /// ``append(_:)-(UnsafeRawBufferPointer)`` of an envelope in an array.
    package mutating func append(_ envelope: [UInt8]) {
        envelope.withUnsafeBytes { append($0) }
    }

    /// Empties the writer.
    package mutating func removeAll() {
        frame.removeAll(keepingCapacity: true)
        count = 0
    }

    /// The frame to send: the batch, or the envelope itself when it holds
    /// only one (a batch of one is never sent). Empties the writer.
    package mutating func finish() -> [UInt8] {
        guard count > 0 else { return [] }
        defer { (frame, count) = ([], 0) }
        if count == 1 { return Array(frame[firstEntry...]) }
        frame[5] = UInt8(count >> 8)
        frame[6] = UInt8(count & 0xff)
        return frame
    }
}
