import Testing
@testable import Cort

@Suite struct FairQueueTests {
    /// A caller named in a test, at a slot of its own (a string literal names it).
    struct Caller: FairQueuePeer, ExpressibleByStringLiteral {
        static let names = ["a", "b", "big", "small", "flooder", "victim"]
        let name: String
        let queueSlot: Int

        init(name: String, slot: Int) {
            self.name = name
            queueSlot = slot
        }

        init(stringLiteral name: String) {
            self.init(name: name, slot: Self.names.firstIndex(of: name)!)
        }
    }

    /// Two callers at one slot: the peer table gives a departed caller's
    /// slot to a newcomer only once its calls are gone, so a second caller
    /// there is refused rather than mixed into the first one's queue.
    @Test func aSecondCallerAtAnOccupiedSlotIsRefused() {
        var queue = FairQueue<Int, Caller>(capacity: 100, byteCapacity: 1 << 20)
        let old = Caller(name: "old", slot: 3)
        let new = Caller(name: "new", slot: 3)
        _ = queue.enqueue(1, bytes: 1, from: old)
        guard case .refused = queue.enqueue(2, bytes: 1, from: new) else {
            Issue.record("a second caller's call went into the first one's queue")
            return
        }
        #expect(queue.count(of: new) == 0 && queue.count(of: old) == 1)
        #expect(queue.dequeue()?.element == 1)
        // Once the first caller's calls are gone, the slot is the newcomer's.
        guard case .accepted = queue.enqueue(2, bytes: 1, from: new) else {
            Issue.record("the newcomer was refused at an empty slot")
            return
        }
        #expect(queue.dequeue()?.peer.name == "new")
        #expect(queue.isEmpty)
    }

    @Test func callersTakeTurns() {
        var queue = FairQueue<Int, Caller>(capacity: 100, byteCapacity: 1 << 20)
        for call in 1...5 { _ = queue.enqueue(call, bytes: 10, from: "flooder") }
        _ = queue.enqueue(100, bytes: 10, from: "victim")
        _ = queue.enqueue(101, bytes: 10, from: "victim")
        var order: [Int] = []
        while let (_, call) = queue.dequeue() { order.append(call) }
        // The flooder was first, then turns alternate while both have calls.
        #expect(order == [1, 100, 2, 101, 3, 4, 5])
        #expect(queue.isEmpty && queue.bytes == 0)
    }

    @Test func aLoneCallerMayFillTheQueueAndIsRefusedBeyondIt() {
        var queue = FairQueue<Int, Caller>(capacity: 3, byteCapacity: 1 << 20)
        for call in 1...3 {
            guard case .accepted(let evicted) = queue.enqueue(call, bytes: 1, from: "a") else {
                Issue.record("call \(call) was refused")
                return
            }
            #expect(evicted.isEmpty)
        }
        guard case .refused = queue.enqueue(4, bytes: 1, from: "a") else {
            Issue.record("a caller holding the whole queue pushed out its own call")
            return
        }
        #expect(queue.count == 3)
    }

    @Test func aNewcomerPushesOutTheNewestCallOfTheLongestQueue() {
        var queue = FairQueue<Int, Caller>(capacity: 4, byteCapacity: 1 << 20)
        for call in 1...4 { _ = queue.enqueue(call, bytes: 1, from: "flooder") }
        guard case .accepted(let evicted) = queue.enqueue(100, bytes: 1, from: "victim") else {
            Issue.record("the victim was refused")
            return
        }
        #expect(evicted == [4])
        #expect(queue.count(of: "flooder") == 3 && queue.count(of: "victim") == 1)
        // Two callers at 3 and 1: the victim may still push one out; at 2 and 2 nobody can.
        guard case .accepted(let second) = queue.enqueue(101, bytes: 1, from: "victim") else {
            Issue.record("the victim was refused at 3 to 1")
            return
        }
        #expect(second == [3])
        guard case .refused = queue.enqueue(102, bytes: 1, from: "victim") else {
            Issue.record("at 2 to 2 the victim pushed out a call: churn")
            return
        }
        guard case .refused = queue.enqueue(5, bytes: 1, from: "flooder") else {
            Issue.record("the flooder pushed out the victim")
            return
        }
    }

    @Test func callsReservedElsewhereCountAgainstTheCapacity() {
        var queue = FairQueue<Int, Caller>(capacity: 2, byteCapacity: 1 << 20)
        _ = queue.enqueue(1, bytes: 1, from: "a", reserved: 1)
        guard case .refused = queue.enqueue(2, bytes: 1, from: "a", reserved: 1) else {
            Issue.record("one waiting and one reserved filled a capacity of 2")
            return
        }
        #expect(queue.count == 1)
    }

    @Test func theByteBoundRefusesAndPushesOutLikeTheCountBound() {
        var queue = FairQueue<Int, Caller>(capacity: 100, byteCapacity: 1000)
        guard case .refused = queue.enqueue(0, bytes: 1001, from: "a") else {
            Issue.record("a request over the whole byte bound was accepted")
            return
        }
        for call in 1...4 { _ = queue.enqueue(call, bytes: 250, from: "big") }
        #expect(queue.bytes == 1000)
        guard case .accepted(let evicted) = queue.enqueue(100, bytes: 400, from: "small") else {
            Issue.record("the small caller was refused")
            return
        }
        #expect(evicted == [4, 3], "two of the big caller's calls made room for 400 bytes")
        #expect(queue.bytes == 900)
    }

    @Test func aRefusedOfferChangesNothing() {
        var queue = FairQueue<Int, Caller>(capacity: 100, byteCapacity: 1000)
        for call in 1...3 { _ = queue.enqueue(call, bytes: 300, from: "a") }
        _ = queue.enqueue(10, bytes: 50, from: "b")
        _ = queue.enqueue(11, bytes: 50, from: "b")
        // b would need a's calls to make room, but a holds 3 and b 2 (+1): not its turn.
        guard case .refused = queue.enqueue(12, bytes: 500, from: "b") else {
            Issue.record("b pushed out a's calls without being owed a turn")
            return
        }
        #expect(queue.count == 5 && queue.bytes == 1000)
        var order: [Int] = []
        while let (_, call) = queue.dequeue() { order.append(call) }
        #expect(order == [1, 10, 2, 11, 3])
    }

    @Test func removingACallerOrOneCall() {
        var queue = FairQueue<Int, Caller>(capacity: 10, byteCapacity: 1000)
        for call in 1...3 { _ = queue.enqueue(call, bytes: 10, from: "a") }
        _ = queue.enqueue(7, bytes: 10, from: "b")
        #expect(queue.remove(from: "a") { $0 == 2 } == 2)
        #expect(queue.remove(from: "a") { $0 == 2 } == nil)
        #expect(queue.removeAll(from: "a") == [1, 3])
        #expect(queue.count == 1 && queue.bytes == 10)
        #expect(queue.dequeue()?.element == 7)
        #expect(queue.dequeue() == nil)
    }
}
