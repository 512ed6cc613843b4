import Testing
@testable import Cort

@Suite struct DeadlineQueueTests {
    @Test func expiredEntriesComeOutEarliestFirstWhateverTheOrderTheyWentIn() {
        var queue = DeadlineQueue()
        for (index, seconds) in [5, 1, 4, 2, 3, 9].enumerated() {
            queue.insert(.init(deadline: .seconds(seconds), id: UInt64(index), waiter: index.isMultiple(of: 2)))
        }
        #expect(queue.earliest == .seconds(1))
        #expect(queue.popExpired(at: .seconds(3)).map(\.deadline) == [.seconds(1), .seconds(2), .seconds(3)])
        #expect(queue.popExpired(at: .seconds(3)).isEmpty)
        #expect(queue.earliest == .seconds(4))
        #expect(queue.popExpired(at: .seconds(10)).map(\.id) == [2, 0, 5])
        #expect(queue.count == 0 && queue.earliest == nil)
    }

    @Test func deadEntriesAreDroppedOnceTheyOutnumberTheLive() {
        var queue = DeadlineQueue()
        var live = Set<UInt64>()
        for id in 0..<1000 as Range<UInt64> {
            queue.insert(.init(deadline: .seconds(10) + .milliseconds(id), id: id, waiter: false))
            // Each call ends right away but the last ten.
            if id >= 990 { live.insert(id) }
            queue.compact(live: live.count) { live.contains($0.id) }
        }
        #expect(queue.count <= 2 * live.count + 65, "\(queue.count) entries for \(live.count) live")
        #expect(queue.popExpired(at: .seconds(11)).filter { live.contains($0.id) }.count == 10, "no live one lost")
    }
}
