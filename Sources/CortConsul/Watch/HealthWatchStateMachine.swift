/// The decisions of a ``HealthWatch``, without I/O: what index to send, when the next
/// query may go, what an answer changes, and how long to back off after a failure.
///
/// Time is a `Duration` since the watch started, read from the watch's clock by its
/// driver, so the machine runs on virtual time in tests.
///
/// The rules, from Consul's blocking-query guidance:
/// - an answer whose index is lower than the one sent resets the index to 0 (the agent
///   restarted or restored a snapshot); the next query then answers at once;
/// - any other answer's index is used, but never below 1, so a broken index of 0 cannot
///   turn blocking queries into a busy loop;
/// - queries are paced by a token bucket (``HealthWatch/Configuration/burst`` tokens, one
///   more per ``HealthWatch/Configuration/refillInterval``) instead of a fixed sleep;
/// - after `n` failures in a row the next query waits `backoffBase × n²`, at most `backoffCap`;
/// - an update is reported only when both the index and the content changed (the first
///   answer is always reported).
struct HealthWatchStateMachine {
    /// What the driver does next.
    enum NextStep: Equatable {
        /// Send a query with this index (0: answer at once).
        case query(index: UInt64)
        /// Sleep until this time, then ask again.
        case wait(until: Duration)
    }

    /// What an answer changed.
    struct Received: Equatable {
        /// The instances to report, or `nil` when nothing worth reporting changed.
        var update: HealthWatch.Update?
        /// The answer's index was lower than the one sent: the index was reset to 0.
        var indexWentBack: Bool
        /// The failures in a row before this answer (for a "recovered" log line).
        var recoveredAfterFailures: Int
    }

    let configuration: HealthWatch.Configuration
    /// The index the next query sends.
    private(set) var index: UInt64 = 0
    /// Failures in a row.
    private(set) var failures = 0
    /// The backoff the last failure set (zero before any).
    private(set) var backoff: Duration = .zero
    /// The index of the query in flight.
    private var sentIndex: UInt64 = 0
    private var tokens: Double
    private var lastRefill: Duration = .zero
    private var notBefore: Duration?
    private var lastAnswerIndex: UInt64?
    private var lastReported: [ConsulServiceInstance]?

    init(configuration: HealthWatch.Configuration) {
        self.configuration = configuration
        tokens = Double(max(configuration.burst, 1))
    }

    /// The next step at time `now`: query (which takes a token) or wait.
    mutating func next(now: Duration) -> NextStep {
        if let notBefore, now < notBefore { return .wait(until: notBefore) }
        notBefore = nil
        let capacity = Double(max(configuration.burst, 1))
        if now > lastRefill {
            tokens = min(capacity, tokens + (now - lastRefill) / configuration.refillInterval)
        }
        lastRefill = max(lastRefill, now)
        if tokens >= 1 {
            tokens -= 1
            sentIndex = index
            return .query(index: index)
        }
        return .wait(until: now + configuration.refillInterval * (1 - tokens))
    }

    /// An answer to the query in flight: its index and instances.
    mutating func received(index answerIndex: UInt64, instances: [ConsulServiceInstance]) -> Received {
        let recoveredAfter = failures
        failures = 0
        let wentBack = answerIndex < sentIndex
        index = wentBack ? 0 : max(answerIndex, 1)

        let sorted = instances.sorted { ($0.id, $0.node) < ($1.id, $1.node) }
        let comparable = Self.comparable(sorted)
        var update: HealthWatch.Update?
        if let lastReported, let lastAnswerIndex {
            if answerIndex != lastAnswerIndex && comparable != lastReported {
                update = HealthWatch.Update(instances: sorted, index: answerIndex)
            }
        } else {
            update = HealthWatch.Update(instances: sorted, index: answerIndex)
        }
        if update != nil { lastReported = comparable }
        lastAnswerIndex = answerIndex
        return Received(update: update, indexWentBack: wentBack, recoveredAfterFailures: recoveredAfter)
    }

    /// The query in flight failed at `now`: returns the backoff before the next one.
    @discardableResult
    mutating func failed(now: Duration) -> Duration {
        failures += 1
        // Capped before squaring so a long outage cannot overflow.
        let n = min(failures, 10_000)
        backoff = min(configuration.backoffBase * (n * n), configuration.backoffCap)
        notBefore = now + backoff
        return backoff
    }

    /// The instances without their checks' outputs: a TTL note that changes on every pass
    /// is not a change of the service's membership.
    private static func comparable(_ instances: [ConsulServiceInstance]) -> [ConsulServiceInstance] {
        instances.map { instance in
            var copy = instance
            copy.checks = copy.checks.map { check in
                var check = check
                check.output = ""
                return check
            }
            return copy
        }
    }
}
