import Testing
@testable import Cort

/// A node's answers gathered per caller while it answers finished calls.
@Suite struct AnswerBatchesTests {
    static let first = PeerTable.Ref(slot: 0, generation: 1)
    static let second = PeerTable.Ref(slot: 1, generation: 2)

    static func gather(_ batches: inout AnswerBatches, _ envelope: Envelope, for peer: PeerTable.Ref)
        -> AnswerBatches.Closed? {
        batches.scratch.removeAll()
        WireCodec.encode(envelope, into: &batches.scratch)
        return batches.gather(for: peer, routingID: [UInt8(peer.slot)])
    }

    static func envelopes(_ closed: AnswerBatches.Closed) throws -> [Envelope] {
        try RawCaller.envelopes(in: closed.frame)
    }

    @Test func answersGoInOneBatchPerCallerInTheOrderGathered() throws {
        var batches = AnswerBatches()
        batches.startGathering()
        #expect(batches.isGathering)
        // Interleaved: the second caller's batch is not the last opened when the first answers again.
        #expect(Self.gather(&batches, .reply(id: 1, result: [1]), for: Self.first) == nil)
        #expect(Self.gather(&batches, .reply(id: 2, result: [2]), for: Self.second) == nil)
        #expect(Self.gather(&batches, .failure(id: 3, CallFailure(code: .overloaded, message: "full")), for: Self.first) == nil)
        #expect(Self.gather(&batches, .reply(id: 4, result: nil), for: Self.second) == nil)
        #expect(batches.bytes(for: Self.first) > 0)
        #expect(batches.bytes == batches.bytes(for: Self.first) + batches.bytes(for: Self.second))
        let closed = batches.finish()
        #expect(!batches.isGathering)
        #expect(batches.bytes == 0 && batches.bytes(for: Self.first) == 0)
        #expect(closed.map(\.peer) == [Self.first, Self.second])
        #expect(closed.map(\.routingID) == [[0], [1]])
        #expect(closed.map(\.answers) == [2, 2])
        #expect(try Self.envelopes(closed[0]).map(\.id) == [1, 3])
        #expect(try Self.envelopes(closed[1]) == [.reply(id: 2, result: [2]), .reply(id: 4, result: nil)])
        #expect(batches.finish().isEmpty)
    }

    @Test func aFullBatchIsClosedWhenTheNextAnswerDoesNotFit() throws {
        var batches = AnswerBatches()
        batches.startGathering()
        var closed: [AnswerBatches.Closed] = []
        for id in 1...(WireBatchWriter.maxEntries + 1) {
            if let full = Self.gather(&batches, .reply(id: UInt64(id), result: [0]), for: Self.first) {
                closed.append(full)
            }
        }
        #expect(closed.count == 1)
        #expect(closed.first?.answers == WireBatchWriter.maxEntries)
        // What stays gathered is the answer that did not fit, alone: its own envelope.
        let rest = batches.finish()
        #expect(rest.map(\.answers) == [1])
        #expect(try rest.first.map(Self.envelopes) == [.reply(id: UInt64(WireBatchWriter.maxEntries + 1), result: [0])])
        #expect(!(rest.first?.frame.withUnsafeBytes { WireBatch.isBatch($0) } ?? true))
    }

    @Test func whatIsGatheredCountsWithTheBatchsOwnBytes() {
        var batches = AnswerBatches()
        batches.startGathering()
        batches.scratch = RawCaller.encode(.reply(id: 1, result: [1, 2, 3]))
        let first = batches.cost(ofGathering: Self.first)
        #expect(first == batches.scratch.count + 5 + 7)
        #expect(batches.gather(for: Self.first, routingID: [0]) == nil)
        #expect(batches.bytes(for: Self.first) == first)
        // The batch is open: the next answer adds its entry only.
        #expect(batches.cost(ofGathering: Self.first) == batches.scratch.count + 5)
        #expect(batches.gather(for: Self.first, routingID: [0]) == nil)
        #expect(batches.bytes == first + batches.scratch.count + 5)
        // What the frame holds is no more than what was counted.
        let closed = batches.finish()
        #expect(closed.first.map { $0.frame.count <= first + batches.scratch.count + 5 } == true)
    }
}
