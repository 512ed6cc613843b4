/// The answers a node gathers while it answers a batch of finished calls,
/// one ``WireBatchWriter`` per caller that reads batches, sent when the
/// batch of calls is done (or when a caller's batch is full).
///
/// Only replies and errors to callers that sent a batch themselves are
/// gathered (``PeerTable/Entry/readsBatches``): any other caller, a caller
/// that does not read, and every other kind of answer get a message of
/// their own, as before batches.
struct AnswerBatches {
    /// A caller's batch, closed: its frame to send.
    struct Closed {
        let peer: PeerTable.Ref
        let routingID: [UInt8]
        let frame: [UInt8]
        /// How many answers it holds.
        let answers: Int
    }

    private struct Open {
        let peer: PeerTable.Ref
        let routingID: [UInt8]
        var writer = WireBatchWriter()
        var bytes = 0
    }

    /// Whether answers are gathered now (while finished calls are answered).
    private(set) var isGathering = false
    /// Where an answer to gather is encoded, its storage kept between answers.
    var scratch: [UInt8] = []
    private var open: [Open] = []
    private var byPeer: [PeerTable.Ref: Int] = [:]
    /// The bytes gathered and not sent yet, batch frames' own bytes included.
    private(set) var bytes = 0
    /// A batch frame's bytes beside its entries (`[1, 10, 0, ` and an array 16 header).
    private static let frameBytes = 7
    /// The most an entry's bin header takes.
    private static let entryHeaderBytes = 5

    mutating func startGathering() {
        isGathering = true
    }

    /// The bytes gathered for `peer` and not sent yet.
    func bytes(for peer: PeerTable.Ref) -> Int {
        index(of: peer).map { open[$0].bytes } ?? 0
    }

    /// The batch open for `peer`: the last one opened is compared first
    /// (most batches of answers are for one caller), before a look-up
    /// that hashes the caller (about 300 instructions, callgrind).
    private func index(of peer: PeerTable.Ref) -> Int? {
        if let last = open.indices.last, open[last].peer == peer { return last }
        return open.count > 1 ? byPeer[peer] : nil
    }

    /// What gathering the answer in ``scratch`` for `peer` adds to the bytes
    /// gathered (a new batch's frame included).
    func cost(ofGathering peer: PeerTable.Ref) -> Int {
        scratchCost(openingBatch: index(of: peer) == nil)
    }

    /// The answer in ``scratch`` as an entry, with the frame of the batch it opens if it does.
    private func scratchCost(openingBatch: Bool) -> Int {
        scratch.count + Self.entryHeaderBytes + (openingBatch ? Self.frameBytes : 0)
    }

    /// Adds the answer in ``scratch`` to `peer`'s batch. Returns that batch
    /// closed when the answer did not fit in it (it opens the next one): to
    /// send now.
    mutating func gather(for peer: PeerTable.Ref, routingID: [UInt8]) -> Closed? {
        var closed: Closed?
        let slot: Int
        if let known = index(of: peer) {
            slot = known
            if !open[slot].writer.fits(scratch.count) { closed = close(slot) }
        } else {
            slot = open.count
            open.append(Open(peer: peer, routingID: routingID))
            byPeer[peer] = slot
        }
        let cost = scratchCost(openingBatch: open[slot].writer.count == 0)
        scratch.withUnsafeBytes { open[slot].writer.append($0) }
        open[slot].bytes += cost
        bytes += cost
        return closed
    }

    /// Stops gathering; every batch, closed, to send.
    mutating func finish() -> [Closed] {
        isGathering = false
        guard !open.isEmpty else { return [] }
        let closed = open.indices.map { close($0) }
        open.removeAll(keepingCapacity: true)
        byPeer.removeAll(keepingCapacity: true)
        bytes = 0
        return closed
    }

    private mutating func close(_ index: Int) -> Closed {
        let answers = open[index].writer.count
        bytes -= open[index].bytes
        open[index].bytes = 0
        return Closed(peer: open[index].peer, routingID: open[index].routingID,
                      frame: open[index].writer.finish(), answers: answers)
    }
}
