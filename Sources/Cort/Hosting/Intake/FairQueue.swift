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
/// var queue = FairQueue<UInt64, String>(capacity: 2, byteCapacity: 1 << 20)
/// _ = queue.enqueue(1, bytes: 100, from: "flooder")   // accepted
/// _ = queue.enqueue(2, bytes: 100, from: "flooder")   // accepted: the queue is full
/// queue.enqueue(3, bytes: 100, from: "victim")        // .accepted(evicted: [2])
/// queue.dequeue()                                     // ("flooder", 1), then ("victim", 3)
/// ```
struct FairQueue<Element, Peer: Hashable> {
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

    private var queues: [Peer: Deque<Entry>] = [:]
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
        queues[peer]?.count ?? 0
    }

    /// Offers `element` of `bytes` bytes from `peer`. `reserved` elements
    /// that wait elsewhere (handed on, not started yet) count against the
    /// capacity too.
    mutating func enqueue(_ element: Element, bytes size: Int, from peer: Peer, reserved: Int = 0) -> Admission {
        guard size <= byteCapacity else { return .refused }
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

    // One hash of the caller per push and per dequeue (an index into the
    // table, changed in place), where a look-up and a write each hashed it
    // again: at 64 calls in flight every call goes through both.
    private mutating func push(_ entry: Entry, for peer: Peer) {
        if let index = queues.index(forKey: peer) {
            queues.values[index].append(entry)
        } else {
            var queue = Deque<Entry>()
            swap(&queue, &spare)
            queue.append(entry)
            queues[peer] = queue
            turns.append(peer)
        }
        count += 1
        bytes += entry.bytes
    }

    private mutating func popNewest(of peer: Peer) -> Entry? {
        guard let entry = queues[peer]?.popLast() else { return nil }
        count -= 1
        bytes -= entry.bytes
        if queues[peer]?.isEmpty == true {
            queues.removeValue(forKey: peer)
            turns.removeAll { $0 == peer }
        }
        return entry
    }

    /// The next element, from the caller whose turn it is; nil when none waits.
    mutating func dequeue() -> (peer: Peer, element: Element)? {
        guard let peer = turns.popFirst(), let index = queues.index(forKey: peer),
              let entry = queues.values[index].popFirst() else { return nil }
        count -= 1
        bytes -= entry.bytes
        if !queues.values[index].isEmpty {
            turns.append(peer)
        } else {
            spare = queues.remove(at: index).value
        }
        return (peer, entry.element)
    }

    /// Takes the first waiting element of `peer` that `matches` out of the queue.
    mutating func remove(from peer: Peer, where matches: (Element) -> Bool) -> Element? {
        // In place: a copy taken out of the dictionary and written back
        // would copy the whole queue on every removal.
        guard let index = queues[peer]?.firstIndex(where: { matches($0.element) }),
              let entry = queues[peer]?.remove(at: index) else {
            return nil
        }
        count -= 1
        bytes -= entry.bytes
        if queues[peer]?.isEmpty == true {
            queues.removeValue(forKey: peer)
            turns.removeAll { $0 == peer }
        }
        return entry.element
    }

    /// Takes every waiting element of `peer` out of the queue, oldest first.
    mutating func removeAll(from peer: Peer) -> [Element] {
        guard let queue = queues.removeValue(forKey: peer) else { return [] }
        turns.removeAll { $0 == peer }
        count -= queue.count
        bytes -= queue.reduce(0) { $0 + $1.bytes }
        return queue.map(\.element)
    }

    /// The caller with the most waiting elements (the first in turn order among equals).
    private func longestQueue() -> Peer? {
        var best: Peer?
        var bestCount = 0
        for peer in turns {
            let waiting = queues[peer]?.count ?? 0
            if waiting > bestCount {
                best = peer
                bestCount = waiting
            }
        }
        return best
    }
}
