import Cort
import Foundation
import ReliabilityServices

/// What a scenario's calls and the nodes' execution logs show, and the figures
/// the reliability note quotes.
struct LoadReport {
    let records: [CallRecord]
    let executions: [ExecutionLog.Entry]

    /// Calls that did not succeed.
    var failures: [CallRecord] { records.filter { $0.node == nil } }

    /// Keys of calls that were not idempotent and ran more than once.
    var nonIdempotentKeysRunTwice: [String] {
        var counts: [String: Int] = [:]
        for entry in executions where entry.key.hasPrefix(CallRecord.Kind.append.keyPrefix + "-") {
            counts[entry.key, default: 0] += 1
        }
        return counts.filter { $0.value > 1 }.keys.sorted()
    }

    /// Keys of calls that succeeded but that no node recorded running.
    var succeededButNeverRan: [String] {
        let ran = Set(executions.map(\.key))
        return records.filter { $0.node != nil && !ran.contains($0.key) }.map(\.key)
    }

    /// "append: outcome unknown ×3, read: deadline exceeded ×1", or "none".
    var failureSummary: String {
        var counts: [String: Int] = [:]
        for record in failures {
            let why: String
            switch record.outcome {
            case .failed(let code, _): why = "\(code)"
            case .unexpected(let text): why = "unexpected \(text)"
            case .succeeded: continue
            }
            counts["\(record.kind.rawValue): \(why)", default: 0] += 1
        }
        if counts.isEmpty { return "none" }
        return counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
    }

    /// A few failures with their messages, for an assertion's comment.
    var failureSamples: String {
        failures.prefix(5).map { "\($0.kind.rawValue) \($0.key): \($0.outcome)" }.joined(separator: "; ")
    }

    /// From `event` to the first success that ended after it on a node other than `excluded`.
    func firstSuccess(after event: Duration, excluding excluded: String? = nil) -> Duration? {
        records.filter { $0.end > event && $0.node != nil && $0.node != excluded }.map(\.end).min().map { $0 - event }
    }

    /// Calls that ended after `event` (and by `end`, when given) and took at
    /// least `threshold`: the ones a failed node held until it was found out
    /// (a call on a live node takes a few milliseconds here).
    func heldCalls(endingAfter event: Duration, threshold: Duration = .milliseconds(50),
                   before end: Duration? = nil) -> [CallRecord] {
        records.filter { $0.end > event && $0.end <= (end ?? $0.end) && $0.end - $0.start >= threshold }
    }

    /// From `event` to the end of the last held call (see ``heldCalls(endingAfter:threshold:before:)``):
    /// when the failed node's calls were all settled; zero when none was held.
    func settled(after event: Duration) -> Duration {
        heldCalls(endingAfter: event).map(\.end).max().map { $0 - event } ?? .zero
    }

    /// "2 (append 296.1 ms outcome unknown, read 297.0 ms node-2)": the held calls, how long and how they ended.
    func heldCallSummary(endingAfter event: Duration, threshold: Duration = .milliseconds(50),
                         before end: Duration? = nil) -> String {
        let held = heldCalls(endingAfter: event, threshold: threshold, before: end)
        let details = held.prefix(8).map { record in
            let ending = switch record.outcome {
            case .succeeded(let node): node
            case .failed(let code, _): "\(code)"
            case .unexpected(let text): text
            }
            return "\(record.kind.rawValue) \(Figure.milliseconds(record.end - record.start)) \(ending)"
        }
        return held.isEmpty ? "0" : "\(held.count) (\(details.joined(separator: ", ")))"
    }

    /// The longest a call that ended after `event` took.
    func longestCall(endingAfter event: Duration) -> Duration? {
        records.filter { $0.end > event }.map { $0.end - $0.start }.max()
    }

    /// From `event` to the first success on `node` after it.
    func firstSuccess(on node: String, after event: Duration) -> Duration? {
        records.filter { $0.end > event && $0.node == node }.map(\.end).min().map { $0 - event }
    }

    /// From `event` to the start of the first of three 50 ms windows in a
    /// row that each had at least 80 % of the successes per window of the
    /// second before `event`: when throughput was full again. Nil when it
    /// never was before the load stopped.
    func fullThroughput(after event: Duration) -> Duration? {
        let window = Duration.milliseconds(50)
        let baselineStart = max(event - .seconds(1), records.map(\.start).min() ?? event)
        let baselineWindows = (event - baselineStart) / window
        guard baselineWindows >= 2 else { return nil }
        let baseline = Double(records.filter { $0.node != nil && $0.end >= baselineStart && $0.end < event }.count)
            / baselineWindows
        let lastEnd = records.map(\.end).max() ?? event
        var counts: [Int] = []
        for record in records where record.node != nil && record.end >= event {
            let index = Int((record.end - event) / window)
            if index >= counts.count { counts += Array(repeating: 0, count: index - counts.count + 1) }
            counts[index] += 1
        }
        let complete = Int((lastEnd - event) / window)  // the last window may be cut short
        guard complete >= 3 else { return nil }
        for start in 0...(complete - 3) where (start..<(start + 3)).allSatisfy({ Double(counts[safe: $0]) >= 0.8 * baseline }) {
            return window * start
        }
        return nil
    }
}

extension Array where Element == Int {
    fileprivate subscript(safe index: Int) -> Int { index < count ? self[index] : 0 }
}

/// The figures the reliability note quotes, one `FIGURE name=value` line each.
enum Figure {
    static func report(_ name: String, _ value: String) {
        print("FIGURE \(name)=\(value)")
    }

    static func report(_ name: String, _ duration: Duration?) {
        report(name, duration.map(milliseconds) ?? "never")
    }

    static func milliseconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        return value.formatted(.number.precision(.fractionLength(1))) + " ms"
    }
}
