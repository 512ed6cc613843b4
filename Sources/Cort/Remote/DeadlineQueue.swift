import HeapModule

/// The deadlines of a caller's calls and waits, earliest first: a min-heap
/// (swift-collections' `Heap`), so that adding one costs O(log n) however
/// they arrive.
///
/// Entries are not removed when their call ends before its deadline (that
/// would cost a search); the owner says how many are still live, and the
/// queue drops the dead ones once they outnumber the live, so it never holds
/// more than about twice what is in flight.
///
/// ```swift
/// var deadlines = DeadlineQueue()
/// deadlines.insert(.init(deadline: .seconds(2), id: 7, waiter: false))
/// let due = deadlines.popExpired(at: .seconds(3))   // [id 7]
/// ```
struct DeadlineQueue {
    struct Entry: Comparable {
        let deadline: Duration
        let id: UInt64
        /// A call waiting for a node (rather than a call in flight).
        let waiter: Bool

        /// Earliest first; the rest only makes the order total.
        static func < (lhs: Entry, rhs: Entry) -> Bool {
            (lhs.deadline, lhs.id, lhs.waiter ? 1 : 0) < (rhs.deadline, rhs.id, rhs.waiter ? 1 : 0)
        }
    }

    private var heap = Heap<Entry>()

    var count: Int { heap.count }
    var earliest: Duration? { heap.min?.deadline }

    mutating func insert(_ entry: Entry) {
        heap.insert(entry)
    }

    /// Takes out every entry whose deadline is at or before `now`, earliest first.
    mutating func popExpired(at now: Duration) -> [Entry] {
        var expired: [Entry] = []
        while let first = heap.min, first.deadline <= now {
            expired.append(heap.removeMin())
        }
        return expired
    }

    /// Drops the entries `isLive` rejects once more than half (and more than
    /// 64) of them are dead; `live` is how many are live.
    mutating func compact(live: Int, isLive: (Entry) -> Bool) {
        guard heap.count > 2 * live + 64 else { return }
        heap = Heap(heap.unordered.filter(isLive))
    }
}
