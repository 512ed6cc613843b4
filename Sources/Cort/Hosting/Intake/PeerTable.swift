import CortZeroMQ

/// The callers a node has heard from, with a hard bound on how many it
/// remembers: each caller's accepted calls, the connection it last used,
/// and what waits in libzmq for it.
///
/// It does no I/O. A caller with calls accepted is never forgotten; a full
/// table forgets the caller heard from longest ago among those without
/// calls; when every remembered caller has calls, a new one is not
/// remembered (the node refuses its calls as overloaded).
///
/// ```swift
/// var peers = PeerTable(capacity: 2)
/// let ada = peers.heard(Array("c:ada".utf8), at: .zero)      // remembered
/// peers.acceptedCall(for: ada!)                               // ada now holds a call
/// ```
///
/// Not copyable: its entries live in boxes changed in place, which a copy
/// of the table would share.
struct PeerTable: ~Copyable {
    /// A remembered caller; its generation tells it from a later caller in the same slot.
    struct Ref: Hashable, Sendable {
        let slot: Int
        let generation: UInt64
    }

    /// A connection as the node's socket monitor numbers it: a file
    /// descriptor, and which of the connections on that descriptor it is.
    struct Connection: Hashable, Sendable {
        let descriptor: Int32
        let epoch: UInt64
    }

    struct Entry {
        let routingID: [UInt8]
        let generation: UInt64
        var lastHeard: Duration
        var connection: Connection?
        /// How many calls accepted from this caller wait or run (the node's
        /// ``NodeServer/CallTable`` lists them).
        var callCount = 0
        /// Answer bytes handed to libzmq for this caller and not yet written out.
        let ledger: SendLedger
        /// Its last answer could not be handed over: its pipe was full or its
        /// budget spent. Cleared when an answer goes through again.
        var notReading = false
        /// When the node last tried to answer it while it did not read.
        var lastProbe: Duration?
        /// It sent a batch: it reads its answers in batches too.
        var readsBatches = false
        /// With CURVE: the caller's public key, as the ZAP handler named it
        /// (the `User-Id` of its frames, Z85 text), and whether the node's
        /// allow-list let it in when it last looked (at `checkedGeneration`).
        var identity: CallerKey?
    }

    /// A CURVE caller's key and what the allow-list said of it.
    struct CallerKey {
        /// The `User-Id` bytes, compared with every frame's.
        let userID: [UInt8]
        let key: CurveKey
        var allowed: Bool
        var checkedGeneration: UInt64
    }

    let capacity: Int
    /// Each entry in a box of its own: a field read or changed through
    /// the box's reference, where `slots[slot]?.field` on an array of
    /// entries copied the whole entry first (its id, ledger and key
    /// retained and released), about 15 times a call at 64 in flight
    /// (callgrind).
    private var slots: [Slot?] = []
    /// Each slot's caller's generation (0: an empty slot), for the checks
    /// on every frame and call.
    private var generationsBySlot: [UInt64] = []
    private var freeSlots: [Int] = []
    private var byRoutingID: [RoutingKey: Int] = [:]
    private var generations: UInt64 = 0
    /// The slot of the caller ``heard(_:on:at:)`` found last (checked, not trusted).
    private var lastHeardSlot = 0
    /// The ledger every caller's ledger adds to.
    let totalLedger = SendLedger()

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
    }

    /// A remembered caller's entry, changed in place through its reference.
    private final class Slot {
        var entry: Entry

        init(_ entry: Entry) {
            self.entry = entry
        }
    }

    var count: Int { byRoutingID.count }

    /// Every remembered caller.
    var all: [Ref] {
        slots.indices.compactMap { slot in slots[slot].map { Ref(slot: slot, generation: $0.entry.generation) } }
    }

    subscript(ref: Ref) -> Entry? {
        guard isCurrent(ref) else { return nil }
        return slots[ref.slot]!.entry
    }

    /// What answering `ref` needs of its entry: its ledger and whether it
    /// stopped reading; nil when it is gone. (The entry itself is not
    /// copied out, as the subscript does.)
    func answering(_ ref: Ref) -> (ledger: SendLedger, notReading: Bool, readsBatches: Bool)? {
        guard isCurrent(ref) else { return nil }
        let slot = slots[ref.slot]!
        return (slot.entry.ledger, slot.entry.notReading, slot.entry.readsBatches)
    }

    /// A frame arrived from `routingID` (on `connection`, when known).
    /// Returns the caller, or nil when the table is full of callers with calls.
    mutating func heard(_ routingID: [UInt8], on connection: Connection? = nil, at now: Duration) -> Ref? {
        // The caller heard last, by comparing its id (usually the very same
        // array, from the connection's epochs) rather than hashing it.
        if lastHeardSlot < slots.count, generationsBySlot[lastHeardSlot] != 0,
           slots[lastHeardSlot]!.entry.routingID == routingID {
            return heard(inSlot: lastHeardSlot, on: connection, at: now)
        }
        if let slot = byRoutingID[RoutingKey(routingID)], slots[slot] != nil {
            lastHeardSlot = slot
            return heard(inSlot: slot, on: connection, at: now)
        }
        if byRoutingID.count >= capacity, !forgetOldestIdle() { return nil }
        generations += 1
        let entry = Entry(routingID: routingID, generation: generations, lastHeard: now, connection: connection,
                          ledger: SendLedger(parent: totalLedger))
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = Slot(entry)
            generationsBySlot[slot] = entry.generation
        } else {
            slot = slots.count
            slots.append(Slot(entry))
            generationsBySlot.append(entry.generation)
        }
        byRoutingID[RoutingKey(routingID)] = slot
        return Ref(slot: slot, generation: entry.generation)
    }

    /// A frame arrived from the caller remembered in `slot`: noted in its
    /// entry, in place (a copy of the entry and back costs a retain and a
    /// release of each of its references, on every frame).
    private func heard(inSlot slot: Int, on connection: Connection?, at now: Duration) -> Ref {
        let box = slots[slot]!
        box.entry.lastHeard = now
        if let connection { box.entry.connection = connection }
        return Ref(slot: slot, generation: generationsBySlot[slot])
    }

    /// The caller known by `routingID`, if remembered.
    func ref(for routingID: [UInt8]) -> Ref? {
        guard let slot = byRoutingID[RoutingKey(routingID)], generationsBySlot[slot] != 0 else { return nil }
        return Ref(slot: slot, generation: generationsBySlot[slot])
    }

    /// The caller whose last frame came over `connection`, if remembered.
    func ref(on connection: Connection) -> Ref? {
        for (slot, entry) in slots.enumerated() where entry?.entry.connection == connection {
            return Ref(slot: slot, generation: entry!.entry.generation)
        }
        return nil
    }

    /// A call of `ref`'s was accepted: it is not forgotten while the call is in.
    mutating func acceptedCall(for ref: Ref) {
        guard isCurrent(ref) else { return }
        slots[ref.slot]!.entry.callCount += 1
    }

    /// A call of `ref`'s is over.
    mutating func releasedCall(for ref: Ref) {
        guard isCurrent(ref), slots[ref.slot]!.entry.callCount > 0 else { return }
        slots[ref.slot]!.entry.callCount -= 1
    }

    /// Whether `ref` is still remembered (without copying its entry, as
    /// the subscript does: a copy retains its id and its ledger).
    private func isCurrent(_ ref: Ref) -> Bool {
        ref.slot < generationsBySlot.count && generationsBySlot[ref.slot] == ref.generation
    }

    mutating func setIdentity(_ identity: CallerKey, for ref: Ref) {
        guard isCurrent(ref) else { return }
        slots[ref.slot]!.entry.identity = identity
    }

    mutating func setNotReading(_ notReading: Bool, for ref: Ref) {
        guard isCurrent(ref) else { return }
        slots[ref.slot]!.entry.notReading = notReading
        slots[ref.slot]!.entry.lastProbe = nil
    }

    /// With CURVE, `ref`'s key as the node last checked it (the entry
    /// itself is not copied, as the subscript does: a copy retains its id,
    /// its calls and its ledger).
    func identity(of ref: Ref) -> CallerKey? {
        guard isCurrent(ref) else { return nil }
        return slots[ref.slot]!.entry.identity
    }

    mutating func setReadsBatches(for ref: Ref) {
        guard isCurrent(ref), !slots[ref.slot]!.entry.readsBatches else { return }
        slots[ref.slot]!.entry.readsBatches = true
    }

    func isNotReading(_ ref: Ref) -> Bool {
        isCurrent(ref) && slots[ref.slot]!.entry.notReading
    }

    /// Whether a request from a caller that does not read its answers is
    /// dropped unanswered: true for a caller that does not read, except
    /// once every `interval`, when its refusal is tried to see whether it
    /// reads again.
    mutating func sheds(_ ref: Ref, at now: Duration, probingEvery interval: Duration) -> Bool {
        guard isNotReading(ref) else { return false }
        if let last = slots[ref.slot]!.entry.lastProbe, now - last < interval { return true }
        slots[ref.slot]!.entry.lastProbe = now
        return false
    }

    /// Forgets a caller (its connection is gone); returns what it was.
    @discardableResult
    mutating func remove(_ ref: Ref) -> Entry? {
        guard let entry = self[ref] else { return nil }
        slots[ref.slot] = nil
        generationsBySlot[ref.slot] = 0
        freeSlots.append(ref.slot)
        byRoutingID.removeValue(forKey: RoutingKey(entry.routingID))
        return entry
    }

    /// Forgets the caller without calls heard from longest ago; false when every caller has calls.
    private mutating func forgetOldestIdle() -> Bool {
        var oldest: Int?
        for (slot, entry) in slots.enumerated() {
            guard let entry = entry?.entry, entry.callCount == 0 else { continue }
            if oldest == nil || entry.lastHeard < slots[oldest!]!.entry.lastHeard { oldest = slot }
        }
        guard let oldest else { return false }
        remove(Ref(slot: oldest, generation: generationsBySlot[oldest]))
        return true
    }
}

/// Numbers the connections of a bound socket from its monitor's accept and
/// disconnect events, so a dropped connection is matched to the caller that
/// used it even when its file descriptor was reused at once.
///
/// libzmq emits a connection's disconnect before it closes the descriptor,
/// and the next connection's accept before any frame of it can be read. So
/// once every monitor event queued when a frame was read has been applied
/// (the node drains the monitor before it handles what it read), a frame
/// from descriptor `fd` came over connection number `accepted(fd)`, and came
/// over a connection already closed when that one's disconnect was applied too.
struct ConnectionEpochs {
    private struct Counts {
        var accepted: UInt64 = 0
        var disconnected: UInt64 = 0
        /// The routing id of the last frame read over the descriptor.
        var routingID: [UInt8] = []
    }

    private var counts: [Int32: Counts] = [:]

    /// How many descriptors have a connection open (for tests; bounded by the process's descriptors).
    var openDescriptors: Int { counts.count }

    mutating func accepted(_ descriptor: Int32) {
        counts[descriptor, default: Counts()].accepted += 1
    }

    /// A disconnect: the connection that ended.
    mutating func disconnected(_ descriptor: Int32) -> PeerTable.Connection {
        let known = counts[descriptor] ?? Counts()
        let ended = known.disconnected + 1
        counts[descriptor] = Counts(accepted: max(known.accepted, ended), disconnected: ended)
        return PeerTable.Connection(descriptor: descriptor, epoch: ended)
    }

    /// What a frame read over `descriptor` under the routing id `bytes`
    /// needs, in one look-up of the descriptor:
    /// - the routing id, as an array: the one read last over `descriptor`
    ///   when they are the same (a caller sends all its frames under one id,
    ///   so a frame costs a comparison, not an allocation), else a copy,
    ///   remembered for the next frame; a copy for a nil `descriptor`;
    /// - the connection it came over, and whether that is still open; nil
    ///   when no accept was seen for the descriptor.
    mutating func frame(routingID bytes: UnsafeRawBufferPointer, on descriptor: Int32?)
        -> (routingID: [UInt8], connection: (connection: PeerTable.Connection, isOpen: Bool)?) {
        guard let descriptor, let index = counts.index(forKey: descriptor) else { return (Array(bytes), nil) }
        let known = counts.values[index]
        let connection = known.accepted > 0
            ? (PeerTable.Connection(descriptor: descriptor, epoch: known.accepted), known.accepted > known.disconnected)
            : nil
        if known.routingID.withUnsafeBytes({ bytesEqual($0, bytes) }) { return (known.routingID, connection) }
        let copy = Array(bytes)
        counts.values[index].routingID = copy
        return (copy, connection)
    }
}

/// A routing id as a dictionary key, hashed in one pass over its bytes.
///
/// `[UInt8]`'s own hash feeds the hasher one element at a time: about 750
/// instructions for a caller's 34-byte id, on every frame the node reads
/// (callgrind, a node at 64 calls in flight). Still SipHash, seeded per
/// process, so a peer cannot choose ids that collide.
struct RoutingKey: Hashable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func hash(into hasher: inout Hasher) {
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
    }
}
