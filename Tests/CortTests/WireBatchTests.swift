import CortMessagePack
import Testing
@testable import Cort

/// Batch frames, `[1, 10, 0, [bin, …]]` (docs/PROTOCOL.md, "batch"): what
/// the writer makes, and what the reader accepts and refuses.
@Suite struct WireBatchTests {
    static func encoded(_ envelope: Envelope) -> [UInt8] {
        var bytes: [UInt8] = []
        WireCodec.encode(envelope, into: &bytes)
        return bytes
    }

    static func read(_ frame: [UInt8], limits: WireLimits = WireLimits()) -> WireBatch {
        frame.withUnsafeBytes { WireBatch.read($0, limits: limits) }
    }

    @Test func envelopesOfEverySizeComeBackAsTheyWent() throws {
        // Entries whose bin headers take 2, 3 and 5 bytes, at their edges.
        let results = [0, 200, 255 - 5, 256, 65_535 - 8, 65_536, 70_000].map { count in
            Envelope.reply(id: UInt64(count) + 1, result: [UInt8](repeating: 0xab, count: count))
        }
        var writer = WireBatchWriter()
        for envelope in results {
            writer.append(Self.encoded(envelope))
        }
        #expect(writer.count == results.count)
        let frame = writer.finish()
        #expect(frame.withUnsafeBytes { WireBatch.isBatch($0) })
        #expect(try RawCaller.envelopes(in: frame) == results)
        #expect(writer.count == 0)
        // The writer is empty again and makes a new batch.
        writer.append(Self.encoded(.cancel(id: 5)))
        writer.append(Self.encoded(.cancel(id: 6)))
        #expect(try RawCaller.envelopes(in: writer.finish()) == [.cancel(id: 5), .cancel(id: 6)])
    }

    @Test func aBatchOfOneIsTheEnvelopeItself() {
        var writer = WireBatchWriter()
        let request = Self.encoded(.request(CallRequest(id: 9, service: "s", target: "t", method: "m", timeout: .seconds(1))))
        writer.append(request)
        let frame = writer.finish()
        #expect(frame == request)
        #expect(!frame.withUnsafeBytes { WireBatch.isBatch($0) })
    }

    @Test func aWriterStopsAtItsEntriesAndItsBytes() {
        var writer = WireBatchWriter()
        let small = Self.encoded(.cancel(id: 1))
        while writer.fits(small.count) { writer.append(small) }
        #expect(writer.count == WireBatchWriter.maxEntries)
        #expect(Self.read(writer.finish()).entries.count == WireLimits().maxBatchEntries)

        // An envelope larger than a batch's bytes still goes (alone, first);
        // nothing fits after it.
        let large = [UInt8](repeating: 0, count: WireBatchWriter.maxBytes)
        #expect(writer.fits(large.count))
        writer.append(large)
        #expect(!writer.fits(small.count))
        writer.removeAll()
        writer.append(small)
        #expect(!writer.fits(WireBatchWriter.maxBytes - 8))
        #expect(writer.fits(WireBatchWriter.maxBytes / 2))
    }

    /// `[1, 10, 0, entries]` with the entries array's header and body as given.
    static func batch(header: [UInt8] = [0x94, 0x01, 0x0a, 0x00], _ entries: [[UInt8]], trailing: [UInt8] = []) -> [UInt8] {
        var frame = header + [0xdc, UInt8(entries.count >> 8), UInt8(entries.count & 0xff)]
        for entry in entries {
            frame += [0xc4, UInt8(entry.count)] + entry
        }
        return frame + trailing
    }

    @Test func aReaderRefusesWhatIsNotAWellFormedBatch() {
        let cancel = Self.encoded(.cancel(id: 3))
        let cases: [(frame: [UInt8], delimited: Int, message: String)] = [
            (Self.batch(header: [0x94, 0x01, 0x0a, 0x07], [cancel]), 0, "starts [1, 10, 7]"),
            (Self.batch(header: [0x95, 0x01, 0x0a, 0x00], [cancel]), 0, "with 5 elements"),
            (Self.batch([]), 0, "no entries"),
            (Self.batch([cancel, cancel], trailing: [0xc0]), 2, "1 bytes after the batch"),
            // An entry that is not a bin: a str where the second belongs.
            (Array(Self.batch([cancel, cancel]).dropLast(cancel.count + 2)) + [0xa1, 0x41], 1, "expected bin"),
            // The second entry longer than the frame.
            (Array(Self.batch([cancel, cancel]).dropLast(1)), 1, "ends inside field 'entry'"),
            // The count says more entries than there are.
            ([0x94, 0x01, 0x0a, 0x00, 0xdc, 0x00, 0x05, 0xc4, 0x01, 0xc0], 0, "ends inside field 'entries'"),
        ]
        for (frame, delimited, message) in cases {
            let read = Self.read(frame)
            #expect(read.error?.code == .protocolError)
            #expect(read.error?.id == nil)
            #expect(read.error?.message.contains(message) == true, "\(read.error?.message ?? "no error")")
            #expect(read.entries.count == delimited)
        }
    }

    @Test func aBatchOverTheEntryLimitIsRefusedWithItsFirstEntriesDelimited() {
        let cancel = Self.encoded(.cancel(id: 3))
        var limits = WireLimits()
        limits.maxBatchEntries = 4
        let read = Self.read(Self.batch(Array(repeating: cancel, count: 5)), limits: limits)
        #expect(read.error?.message == "a batch of 5 entries, more than the limit of 4")
        #expect(read.entries.count == 4)
        #expect(Self.read(Self.batch(Array(repeating: cancel, count: 4)), limits: limits).error == nil)
    }

    @Test func aBatchInsideABatchIsAProtocolErrorOfItsEntry() throws {
        var inner = WireBatchWriter()
        inner.append(Self.encoded(.cancel(id: 1)))
        inner.append(Self.encoded(.cancel(id: 2)))
        var outer = WireBatchWriter()
        outer.append(inner.finish())
        outer.append(Self.encoded(.cancel(id: 4)))
        let frame = outer.finish()
        let read = Self.read(frame)
        #expect(read.error == nil)
        #expect(read.entries.count == 2)
        let error = frame.withUnsafeBytes { bytes in
            #expect(throws: WireError.self) {
                try WireCodec.decode(WireBatch.bytes(of: read.entries[0], in: bytes), limits: WireLimits())
            }
        }
        #expect(error?.message.contains("batches do not nest") == true)
        #expect(error?.id == 0)
    }

    @Test func theHeaderOfAnEntryIsReadAlone() {
        let request = Self.encoded(.request(CallRequest(id: 0xfeed, service: "s", target: "t", method: "m", timeout: .seconds(1))))
        let header = request.withUnsafeBytes { WireCodec.header(of: $0) }
        #expect(header?.kind == .request)
        #expect(header?.id == 0xfeed)
        #expect([UInt8]().withUnsafeBytes { WireCodec.header(of: $0) } == nil)
        #expect([UInt8]([0x93, 0x01]).withUnsafeBytes { WireCodec.header(of: $0) } == nil)
        #expect([UInt8]([0x93, 0x01, 0x0b, 0x01]).withUnsafeBytes { WireCodec.header(of: $0) } == nil)
    }

    @Test func aBatchHeaderInAnyFormatAReaderAcceptsIsABatch() {
        let cancel = Self.encoded(.cancel(id: 3))
        let entries: [UInt8] = [0xdc, 0x00, 0x02] + [0xc4, UInt8(cancel.count)] + cancel + [0xc4, UInt8(cancel.count)] + cancel
        let headers: [[UInt8]] = [
            [0x94, 0x01, 0x0a, 0x00],  // as cort writes it
            [0xdc, 0x00, 0x04, 0x01, 0x0a, 0x00],  // the envelope's array as an array 16
            [0x94, 0xcc, 0x01, 0x0a, 0x00],  // the version as a uint 8
            [0x94, 0x01, 0xcc, 0x0a, 0xd0, 0x00],  // the kind as a uint 8, the id as an int 8
        ]
        for header in headers {
            let frame = header + entries
            #expect(frame.withUnsafeBytes { WireBatch.isBatch($0) }, "\(header)")
            let read = Self.read(frame)
            #expect(read.error == nil, "\(header): \(String(describing: read.error))")
            #expect(read.entries.count == 2)
        }
        // Other kinds, whatever their format, are not batches.
        for frame: [UInt8] in [Self.encoded(.cancel(id: 1)), [0xdc, 0x00, 0x03, 0x01, 0x04, 0x01], [0x93, 0x01, 0xcc, 0x04, 0x01], []] {
            #expect(!frame.withUnsafeBytes { WireBatch.isBatch($0) }, "\(frame)")
        }
        var empty = WireBatchWriter()
        #expect(empty.finish().isEmpty)
    }
}
