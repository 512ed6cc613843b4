/// The deadlines of the jobs that have one, earliest first: a binary heap
/// with removal, so one timer task watches every job's timeout.
///
/// Each job remembers its place in the heap (`timerIndex`), so a job that
/// ends in time leaves at once: the heap holds only live jobs, and the timer
/// wakes only for deadlines that can still pass. No I/O: the pool calls it
/// under its lock.
struct WorkerPoolDeadlines<Worker: Sendable> {
    private var heap: [(deadline: Duration, job: any WorkerPoolJob<Worker>)] = []

    var earliest: Duration? { heap.first?.deadline }
    var count: Int { heap.count }

    mutating func insert(_ job: any WorkerPoolJob<Worker>, at deadline: Duration) {
        precondition(job.timerIndex < 0, "a job's deadline was watched twice")
        heap.append((deadline, job))
        job.timerIndex = heap.count - 1
        siftUp(heap.count - 1)
    }

    /// Stops watching `job`; nothing happens if it is not watched.
    mutating func remove(_ job: any WorkerPoolJob<Worker>) {
        let index = job.timerIndex
        guard index >= 0 else { return }
        job.timerIndex = -1
        let last = heap.count - 1
        if index != last {
            heap[index] = heap[last]
            heap[index].job.timerIndex = index
        }
        heap.removeLast()
        if index < heap.count {
            siftDown(index)
            siftUp(index)
        }
    }

    /// Takes out every job whose deadline is at or before `now`.
    mutating func popExpired(at now: Duration) -> [any WorkerPoolJob<Worker>] {
        var expired: [any WorkerPoolJob<Worker>] = []
        // Bounded by the heap's size.
        while let first = heap.first, first.deadline <= now {
            remove(first.job)
            expired.append(first.job)
        }
        return expired
    }

    private mutating func siftUp(_ start: Int) {
        var child = start
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].deadline < heap[parent].deadline else { return }
            swapAt(child, parent)
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
            swapAt(child, parent)
            parent = child
        }
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        heap[a].job.timerIndex = a
        heap[b].job.timerIndex = b
    }
}
