/// Figures of one node failure under load, from the records of the calls
/// around it: how long its calls took to settle, how the call rate dipped and
/// came back, which calls failed and why. Pure arithmetic on the records.
///
/// ```swift
/// let figures = FailoverFigures(records: records, event: killedAt)
/// print(figures.settledAfter ?? .zero, figures.recovery() ?? .zero)
/// ```
public struct FailoverFigures: Sendable {
    /// The width of the buckets the call rate is counted in.
    public static let bucket = Duration.milliseconds(10)

    /// Every record, by end time.
    public let records: [CallRecord]
    /// When the node failed (kill, freeze), on the records' clock.
    public let event: Duration
    /// How far before the event the rate before it is counted.
    public let before: Duration

    /// Figures for a failure at `event`; the rate before it is the mean over
    /// the `before` that precedes it.
    public init(records: [CallRecord], event: Duration, before: Duration = .milliseconds(500)) {
        self.records = records.sorted { $0.end < $1.end }
        self.event = event
        self.before = before
    }

    /// The calls made before the event that had not ended at it.
    public var inFlightAtEvent: [CallRecord] {
        records.filter { $0.start <= event && $0.end > event }
    }

    /// From the event until every call made before it had ended: for a kill,
    /// how long the calls caught on the node took to move (or fail); for a
    /// freeze, how long the node took to be declared dead.
    public var settledAfter: Duration? {
        inFlightAtEvent.map(\.end).max().map { $0 - event }
    }

    /// The calls made before `madeBefore` that ended after the event and took
    /// at least `threshold`: for a freeze, the calls the frozen node held
    /// (those in flight on it, and those sent to it before it was suspect).
    /// Calls in flight at a freeze may all have been answered already, so
    /// these, not ``inFlightAtEvent``, tell when a frozen node was declared dead.
    public func held(longerThan threshold: Duration, madeBefore: Duration) -> [CallRecord] {
        records.filter { $0.end > event && $0.start < madeBefore && $0.latency >= threshold }
    }

    /// From the event until the last of ``held(longerThan:madeBefore:)`` ended.
    public func releasedAfter(heldLongerThan threshold: Duration, madeBefore: Duration) -> Duration? {
        held(longerThan: threshold, madeBefore: madeBefore).map(\.end).max().map { $0 - event }
    }

    /// From the event to the first call answered by one of `nodes` (the
    /// survivors) after it.
    public func firstSuccess(on nodes: Set<Int32>, after time: Duration? = nil) -> Duration? {
        let from = time ?? event
        return records.first { $0.end >= from && $0.node.map(nodes.contains) == true }.map { $0.end - event }
    }

    /// From the event to the last answer from `node` (replies it had sent before it died).
    public func lastSuccess(on node: Int32) -> Duration? {
        records.last { $0.node == node }.map { $0.end - event }
    }

    /// Calls ended per bucket, over the `before` window that precedes the event.
    public var rateBefore: Double {
        let buckets = Int(before / Self.bucket)
        guard buckets > 0 else { return 0 }
        return Double(counts(from: -buckets, count: buckets).reduce(0, +)) / Double(buckets)
    }

    /// Calls that ended in each bucket, from bucket `first` (0 starts at the
    /// event, -1 is the one before) on.
    public func counts(from first: Int, count: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: max(count, 0))
        for record in records {
            let offset = record.end - event
            // Floor division, so the bucket just before the event is -1.
            var index = Int(offset / Self.bucket)
            if offset < .zero, Self.bucket * index != offset { index -= 1 }
            let slot = index - first
            if slot >= 0 && slot < counts.count { counts[slot] += 1 }
        }
        return counts
    }

    /// The start of the first bucket at or after the event from which
    /// `sustained` buckets in a row each end at least `fraction` of
    /// ``rateBefore``; nil if that never happens within `within`.
    public func recovery(fraction: Double = 0.9, sustained: Int = 3, within: Duration = .seconds(2)) -> Duration? {
        let threshold = rateBefore * fraction
        let total = Int(within / Self.bucket)
        let counts = counts(from: 0, count: total + sustained)
        var run = 0
        for (index, count) in counts.enumerated() {
            run = Double(count) >= threshold ? run + 1 : 0
            if run == sustained {
                let first = index - sustained + 1
                return first <= total ? Self.bucket * first : nil
            }
        }
        return nil
    }

    /// The share of the buckets before the event that ended fewer than
    /// `fraction` of ``rateBefore`` calls: how noisy the rate is without a failure.
    public func shareBelow(fraction: Double = 0.9) -> Double {
        let buckets = Int(before / Self.bucket)
        guard buckets > 0 else { return 0 }
        let threshold = rateBefore * fraction
        return Double(counts(from: -buckets, count: buckets).filter { Double($0) < threshold }.count) / Double(buckets)
    }

    /// The failed calls, counted by code and message, most frequent first.
    public var failures: [(reason: String, count: Int)] {
        var byReason: [String: Int] = [:]
        for record in records {
            guard case .failed(let code, let message) = record.outcome else { continue }
            byReason["\(code.map { "\($0)" } ?? "error"): \(message)", default: 0] += 1
        }
        return byReason.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }
            .map { (reason: $0.key, count: $0.value) }
    }
}
