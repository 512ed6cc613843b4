import BenchmarkSupport
import Cort
import Testing

@Suite("FailoverFigures")
struct FailoverFiguresTests {
    /// A call answered by `node` that ended `end` ms after the origin and took `took` ms.
    private func answered(at end: Double, took: Double = 0.5, by node: Int32? = 1) -> CallRecord {
        CallRecord(start: ms(end - took), end: ms(end), outcome: .answered(node: node))
    }

    private func ms(_ value: Double) -> Duration {
        .microseconds(Int64((value * 1000).rounded()))
    }

    /// `perBucket` calls ending in every 10 ms bucket of [from, to) ms.
    private func load(from: Int, to: Int, perBucket: Int, by node: Int32 = 1) -> [CallRecord] {
        stride(from: from, to: to, by: 10).flatMap { bucket in
            (0..<perBucket).map { answered(at: Double(bucket) + 1 + Double($0) * 8 / Double(max(perBucket, 1)), by: node) }
        }
    }

    @Test("settledAfter is when the last call made before the event ended; calls made after it do not count")
    func settledAfter() {
        let records = [
            CallRecord(start: ms(990), end: ms(1_003), outcome: .answered(node: 2)),
            CallRecord(start: ms(995), end: ms(1_007.5), outcome: .answered(node: 3)),
            CallRecord(start: ms(999), end: ms(999.5), outcome: .answered(node: 1)),
            CallRecord(start: ms(1_001), end: ms(1_500), outcome: .answered(node: 2)),
        ]
        let figures = FailoverFigures(records: records, event: ms(1_000))
        #expect(figures.inFlightAtEvent.count == 2)
        #expect(figures.settledAfter == ms(7.5))
    }

    @Test("settledAfter is nil when no call was in flight at the event")
    func nothingInFlight() {
        let figures = FailoverFigures(records: [answered(at: 900)], event: ms(1_000))
        #expect(figures.settledAfter == nil)
    }

    @Test("firstSuccess skips the failed node and calls that ended before the event; lastSuccess finds the failed node's last answer")
    func firstAndLastSuccess() {
        let records = [
            answered(at: 999, by: 2),
            answered(at: 1_000.2, by: 1),
            answered(at: 1_000.4, by: 2),
            CallRecord(start: ms(999), end: ms(1_000.6), outcome: .failed(code: .outcomeUnknown, message: "gone")),
        ]
        let figures = FailoverFigures(records: records, event: ms(1_000))
        #expect(figures.firstSuccess(on: [2, 3]) == ms(0.4))
        #expect(figures.firstSuccess(on: [4]) == nil)
        #expect(figures.lastSuccess(on: 1) == ms(0.2))
    }

    @Test("counts puts a call that ended just before the event in bucket -1, and one ended 15 ms before in bucket -2")
    func bucketsBeforeTheEvent() {
        let records = [answered(at: 995), answered(at: 990), answered(at: 985), answered(at: 1_000), answered(at: 1_019.9)]
        let figures = FailoverFigures(records: records, event: ms(1_000))
        #expect(figures.counts(from: -2, count: 4) == [1, 2, 1, 1])
    }

    @Test("rateBefore is the mean per bucket over the window before the event")
    func rateBefore() {
        let records = load(from: 500, to: 1_000, perBucket: 20) + load(from: 1_000, to: 1_100, perBucket: 5)
        let figures = FailoverFigures(records: records, event: ms(1_000))
        #expect(figures.rateBefore == 20)
        #expect(figures.shareBelow() == 0)
    }

    @Test("recovery is the start of the first of 3 buckets in a row at ≥ 90 % of the rate before")
    func recovery() {
        let records = load(from: 500, to: 1_000, perBucket: 20)
            + load(from: 1_000, to: 1_030, perBucket: 5)
            + load(from: 1_030, to: 1_040, perBucket: 18)
            + load(from: 1_040, to: 1_050, perBucket: 10)
            + load(from: 1_050, to: 1_200, perBucket: 19)
        let figures = FailoverFigures(records: records, event: ms(1_000))
        #expect(figures.recovery() == ms(50))
        #expect(figures.recovery(fraction: 0.5, sustained: 1) == ms(30))
    }

    @Test("recovery is nil when the rate never comes back within the limit")
    func noRecovery() {
        let records = load(from: 500, to: 1_000, perBucket: 20) + load(from: 1_000, to: 1_500, perBucket: 10)
        let figures = FailoverFigures(records: records, event: ms(1_000))
        #expect(figures.recovery(within: .milliseconds(300)) == nil)
    }

    @Test("shareBelow counts the slow buckets before the event")
    func shareBelow() {
        let records = load(from: 500, to: 750, perBucket: 30) + load(from: 750, to: 1_000, perBucket: 10)
        let figures = FailoverFigures(records: records, event: ms(1_000))
        #expect(figures.rateBefore == 20)
        #expect(figures.shareBelow() == 0.5)
    }

    @Test("failures are counted by code and message, most frequent first; answered calls are not failures")
    func failures() {
        let records = [
            CallRecord(start: ms(1), end: ms(2), outcome: .failed(code: .outcomeUnknown, message: "node gone")),
            CallRecord(start: ms(1), end: ms(3), outcome: .failed(code: .deadlineExceeded, message: "late")),
            CallRecord(start: ms(1), end: ms(4), outcome: .failed(code: .outcomeUnknown, message: "node gone")),
            CallRecord(start: ms(1), end: ms(5), outcome: .failed(code: nil, message: "odd")),
            answered(at: 6),
        ]
        let failures = FailoverFigures(records: records, event: ms(2)).failures
        #expect(failures.map(\.count) == [2, 1, 1])
        #expect(failures.first?.reason.hasSuffix("node gone") == true)
        #expect(failures.contains { $0.reason == "error: odd" })
    }

    @Test("held finds the calls a frozen node kept, made before or after the freeze; releasedAfter is when the last ended")
    func heldCalls() {
        let records = [
            // Answered by a live node just after the freeze.
            CallRecord(start: ms(999.5), end: ms(1_000.5), outcome: .answered(node: 2)),
            // In flight on the frozen node at the freeze, and sent to it 40 ms later: both move at 301 ms.
            CallRecord(start: ms(999.8), end: ms(1_301), outcome: .answered(node: 2)),
            CallRecord(start: ms(1_040), end: ms(1_301.2), outcome: .answered(node: 3)),
            // Slow, but made long after the node was declared dead.
            CallRecord(start: ms(1_400), end: ms(1_460), outcome: .answered(node: 3)),
            // Slow, but over before the freeze.
            CallRecord(start: ms(900), end: ms(960), outcome: .answered(node: 1)),
        ]
        let figures = FailoverFigures(records: records, event: ms(1_000))
        let held = figures.held(longerThan: .milliseconds(50), madeBefore: ms(1_300))
        #expect(held.map(\.start) == [ms(999.8), ms(1_040)])
        #expect(figures.releasedAfter(heldLongerThan: .milliseconds(50), madeBefore: ms(1_300)) == ms(301.2))
        #expect(figures.releasedAfter(heldLongerThan: .seconds(1), madeBefore: ms(1_300)) == nil)
    }
}
