/// The deadlines of a caller's calls and waits, earliest first: a binary
/// min-heap, so that adding one costs O(log n) however they arrive.
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
    struct Entry: Equatable {
        let deadline: Duration
        let id: UInt64
        /// A call waiting for a node (rather than a call in flight).
        let waiter: Bool
    }

    private var heap: [Entry] = []

    var count: Int { heap.count }
    var earliest: Duration? { heap.first?.deadline }

    mutating func insert(_ entry: Entry) {
        heap.append(entry)
        siftUp(heap.count - 1)
    }

    /// Takes out every entry whose deadline is at or before `now`, earliest first.
    mutating func popExpired(at now: Duration) -> [Entry] {
        var expired: [Entry] = []
        while let first = heap.first, first.deadline <= now {
            expired.append(first)
            let last = heap.removeLast()
            if !heap.isEmpty {
                heap[0] = last
                siftDown(0)
            }
        }
        return expired
    }

    /// Drops the entries `isLive` rejects once more than half (and more than
    /// 64) of them are dead; `live` is how many are live.
    mutating func compact(live: Int, isLive: (Entry) -> Bool) {
        guard heap.count > 2 * live + 64 else { return }
        heap.removeAll { !isLive($0) }
        for index in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { return }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            guard left < heap.count else { return }
            let right = left + 1
            let child = right < heap.count && heap[right].deadline < heap[left].deadline ? right : left
            guard heap[child].deadline < heap[parent].deadline else { return }
            heap.swapAt(child, parent)
            parent = child
        }
    }
}
