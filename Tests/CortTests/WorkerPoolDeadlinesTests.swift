import Testing

@testable import Cort

/// A job that only carries a deadline, for the heap alone.
private final class DeadlineOnlyJob: WorkerPoolJob {
    typealias Worker = Int
    let deadline: Duration?
    nonisolated(unsafe) var timerIndex = -1
    init(_ seconds: Int) { deadline = .seconds(seconds) }
    func start(on runner: WorkerPoolRunner) -> Bool { false }
    nonisolated(nonsending) func run(on worker: Int, beforeAnswering: () -> Void) async {}
    func fail(_ error: any Error) {}
    func expire() {}
}

@Suite("WorkerPoolDeadlines")
struct WorkerPoolDeadlinesTests {
    @Test("expired jobs come out earliest first, and only those at or before now")
    func popsInOrder() {
        var deadlines = WorkerPoolDeadlines<Int>()
        let seconds = [7, 3, 9, 1, 4, 4, 8, 2, 6, 5]
        let jobs = seconds.map(DeadlineOnlyJob.init)
        for job in jobs { deadlines.insert(job, at: job.deadline!) }
        #expect(deadlines.earliest == .seconds(1))

        let firstFour = deadlines.popExpired(at: .seconds(4))
        #expect(firstFour.map(\.deadline) == [1, 2, 3, 4, 4].map { Duration.seconds($0) })
        #expect(firstFour.allSatisfy { $0.timerIndex == -1 })
        #expect(deadlines.count == 5)
        #expect(deadlines.earliest == .seconds(5))
        #expect(deadlines.popExpired(at: .seconds(4)).isEmpty)
    }

    @Test("a removed job never expires, and the others keep their order")
    func removal() {
        var deadlines = WorkerPoolDeadlines<Int>()
        let jobs = (1...50).map { DeadlineOnlyJob(($0 * 37) % 50) }
        for job in jobs { deadlines.insert(job, at: job.deadline!) }
        // Remove every third job, from anywhere in the heap.
        for job in jobs.enumerated().filter({ $0.offset % 3 == 0 }).map(\.element) {
            deadlines.remove(job)
            #expect(job.timerIndex == -1)
            deadlines.remove(job)  // twice: nothing happens
        }
        let kept = jobs.enumerated().filter { $0.offset % 3 != 0 }.map(\.element)
        #expect(deadlines.count == kept.count)
        let popped = deadlines.popExpired(at: .seconds(1000))
        #expect(popped.map(\.deadline) == kept.map(\.deadline).sorted { $0! < $1! })
        #expect(Set(popped.map { ObjectIdentifier($0) }) == Set(kept.map { ObjectIdentifier($0) }))
        #expect(deadlines.earliest == nil)
    }
}
