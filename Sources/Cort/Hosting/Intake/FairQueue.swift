import DequeModule

/// Calls waiting for a worker, queued per caller and handed out round robin,
/// so that one caller's flood costs every other caller at most its turn.
///
/// It does no I/O: a node offers each call it accepts and takes the next one
/// when a worker is free. Its bounds are hard: at most `capacity` calls and
/// `byteCapacity` bytes of requests wait at once. When the queue is full, a
/// caller with fewer waiting calls than the longest queue's owner pushes that
/// owner's newest call out (the evicted call never ran, so its caller may
/// send it elsewhere); a caller that already holds the most waits its turn or
/// is refused. So a lone caller may use the whole queue, and a newcomer is
/// never starved by it ("longest queue drop").
///
/// ```swift
/// var queue = FairQueue<UInt64, PeerTable.Ref>(capacity: 2, byteCapacity: 1 << 20)
/// _ = queue.enqueue(1, bytes: 100, from: flooder)   // accepted
/// _ = queue.enqueue(2, bytes: 100, from: flooder)   // accepted: the queue is full
/// queue.enqueue(3, bytes: 100, from: victim)        // .accepted(evicted: [2])
/// queue.dequeue()                                   // (flooder, 1), then (victim, 3)
/// ```
///
/// A caller's queue is found by its slot (``FairQueuePeer``), not by
/// hashing it: at 64 calls in flight every call is pushed and taken once,
/// and two hashes of the caller were about 600 instructions a call
/// (callgrind).
struct FairQueue<Element, Peer: FairQueuePeer> {
    /// What happened to an offered element.
    enum Admission {
        /// It waits in the queue; `evicted` (other callers' newest elements,
        /// usually none) were pushed out to make room and must be refused.
        case accepted(evicted: [Element])
        /// No room: the queue is full and this caller already has its share,
        /// or the request alone is over the byte bound.
        case refused
    }

    private struct Entry {
        let element: Element
        let bytes: Int
    }

    /// A caller's waiting elements, at its slot.
    private struct PeerQueue {
        /// The caller whose elements wait here; nil when none does.
        var peer: Peer?
        var entries = Deque<Entry>()
    }

    /// By slot; as long as the largest slot queued so far (the peer table's
    /// capacity bounds it).
    private var queues: [PeerQueue] = []
    /// The callers with waiting elements, in turn order.
    private var turns = Deque<Peer>()
    /// The storage of the last caller's queue that emptied, for the next
    /// caller's: a caller with one call at a time would otherwise cost an
    /// allocation per call. Bounded as any one caller's queue is, by the
    /// queue's capacity.
    private var spare = Deque<Entry>()
    /// How many elements wait, over every caller.
    private(set) var count = 0
    /// How many bytes the waiting elements declared.
    private(set) var bytes = 0
    /// The most elements that may wait at once.
    let capacity: Int
    /// The most bytes that may wait at once.
    let byteCapacity: Int

    init(capacity: Int, byteCapacity: Int) {
        self.capacity = max(capacity, 1)
        self.byteCapacity = max(byteCapacity, 1)
    }

    var isEmpty: Bool { count == 0 }

    /// How many elements of `peer` wait.
    func count(of peer: Peer) -> Int {
        queueSlot(of: peer).map { queues[$0].entries.count } ?? 0
    }

    /// The slot of `peer`'s queue, if it has elements waiting.
    private func queueSlot(of peer: Peer) -> Int? {
        let slot = peer.queueSlot
        return slot < queues.count && queues[slot].peer == peer ? slot : nil
    }

    /// Offers `element` of `bytes` bytes from `peer`. `reserved` elements
    /// that wait elsewhere (handed on, not started yet) count against the
    /// capacity too.
    mutating func enqueue(_ element: Element, bytes size: Int, from peer: Peer, reserved: Int = 0) -> Admission {
        guard size <= byteCapacity, peer.queueSlot >= 0 else { return .refused }
        let slot = peer.queueSlot
        if slot < queues.count, let holder = queues[slot].peer, holder != peer {
            // Another caller's elements hold the slot (a departed caller's,
            // not yet taken out): this one waits for them to go.
            return .refused
        }
        var evicted: [(peer: Peer, entry: Entry)] = []
        while count + reserved + 1 > capacity || bytes + size > byteCapacity {
            guard let longest = longestQueue(), longest != peer,
                  count(of: longest) >= count(of: peer) + 2,
                  let entry = popNewest(of: longest) else {
                // Not this caller's turn to push anyone out: put back what was taken.
                for (owner, entry) in evicted.reversed() { push(entry, for: owner) }
                return .refused
            }
            evicted.append((longest, entry))
        }
        push(Entry(element: element, bytes: size), for: peer)
        return .accepted(evicted: evicted.map(\.entry.element))
    }

    private mutating func push(_ entry: Entry, for peer: Peer) {
        let slot = peer.queueSlot
        while queues.count <= slot { queues.append(PeerQueue()) }
        if queues[slot].peer == nil {
            queues[slot].peer = peer
            swap(&queues[slot].entries, &spare)
            turns.append(peer)
        }
        queues[slot].entries.append(entry)
        count += 1
        bytes += entry.bytes
    }

    /// `slot`'s caller has no element left: its queue's storage becomes
    /// the spare one (the old spare is let go: an idle slot holds none),
    /// and it leaves the turns unless it was just taken from them.
    private mutating func emptied(_ slot: Int, inTurns: Bool) {
        let peer = queues[slot].peer
        queues[slot].peer = nil
        swap(&queues[slot].entries, &spare)
        queues[slot].entries = Deque()
        if inTurns { turns.removeAll { $0 == peer } }
    }

    private mutating func popNewest(of peer: Peer) -> Entry? {
        guard let slot = queueSlot(of: peer), let entry = queues[slot].entries.popLast() else { return nil }
        count -= 1
        bytes -= entry.bytes
        if queues[slot].entries.isEmpty { emptied(slot, inTurns: true) }
        return entry
    }

    /// The next element, from the caller whose turn it is; nil when none waits.
    mutating func dequeue() -> (peer: Peer, element: Element)? {
        guard let peer = turns.popFirst(), let slot = queueSlot(of: peer),
              let entry = queues[slot].entries.popFirst() else { return nil }
        count -= 1
        bytes -= entry.bytes
        if queues[slot].entries.isEmpty {
            emptied(slot, inTurns: false)
        } else {
            turns.append(peer)
        }
        return (peer, entry.element)
    }

    /// Takes the first waiting element of `peer` that `matches` out of the queue.
    mutating func remove(from peer: Peer, where matches: (Element) -> Bool) -> Element? {
        // In place: a copy taken out and written back would copy the whole
        // queue on every removal.
        guard let slot = queueSlot(of: peer),
              let index = queues[slot].entries.firstIndex(where: { matches($0.element) }) else {
            return nil
        }
        let entry = queues[slot].entries.remove(at: index)
        count -= 1
        bytes -= entry.bytes
        if queues[slot].entries.isEmpty { emptied(slot, inTurns: true) }
        return entry.element
    }

    /// Takes every waiting element of `peer` out of the queue, oldest first.
    mutating func removeAll(from peer: Peer) -> [Element] {
        guard let slot = queueSlot(of: peer) else { return [] }
        let entries = queues[slot].entries
        queues[slot] = PeerQueue()
        turns.removeAll { $0 == peer }
        count -= entries.count
        bytes -= entries.reduce(0) { $0 + $1.bytes }
        return entries.map(\.element)
    }

    /// The caller with the most waiting elements (the first in turn order among equals).
    private func longestQueue() -> Peer? {
        var best: Peer?
        var bestCount = 0
        for peer in turns {
            let waiting = count(of: peer)
            if waiting > bestCount {
                best = peer
                bestCount = waiting
            }
        }
        return best
    }
}

/// A caller as ``FairQueue`` keeps it: equal to itself only, with a small
/// number (from 0) that no other caller queued at the same time has.
protocol FairQueuePeer: Equatable {
    var queueSlot: Int { get }
}

extension PeerTable.Ref: FairQueuePeer {
    var queueSlot: Int { slot }
}
