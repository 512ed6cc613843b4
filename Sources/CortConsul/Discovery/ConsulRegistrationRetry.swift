import Logging

/// When a node tries again to register with a Consul that did not take the
/// registration, and what it says about it. No I/O: ``ConsulDiscovery``
/// feeds it failures and successes and carries out the answers.
///
/// - An outage (unreachable, a timeout, 5xx, 429) waits `minimumDelay`, then
///   twice as long after each failure, at most `maximumDelay`.
/// - A refusal (401/403: the token; 400: the registration itself)
///   waits `maximumDelay` at once: only an operator can fix it, and hammering
///   the agent does not help.
/// - The first failure of a streak is logged at warning (an outage) or error
///   (a refusal); later failures of the same kind at debug; a failure of
///   another kind starts a new streak. A success after failures is a notice.
struct ConsulRegistrationRetry {
    /// What kind of failure a registration met.
    enum Failure: Equatable {
        /// Consul cannot answer now: unreachable, too slow, 5xx, 429, or a 4xx other than
        /// 400, 401 and 403 (not Consul's answer: a proxy's, or no agent at that address).
        case outage
        /// Consul refused the token (401, 403).
        case unauthorized
        /// Consul refused the registration itself (400): the node's mistake.
        case refused

        init(_ error: ConsulError) {
            if error.isAuthorizationFailure {
                self = .unauthorized
            } else if error.code == .httpStatus && error.status == 400 || error.code == .invalidArgument {
                // Consul's answer to a registration it will never take (consul-api.md: every
                // validation failure is a 400). Another 4xx (a 404 or 405) comes from something
                // that is not a Consul agent, such as a proxy, and is waited out like an outage.
                self = .refused
            } else {
                self = .outage
            }
        }
    }

    /// What to do after a failure.
    struct Decision: Equatable {
        /// How long to wait before the next attempt.
        var delay: Duration
        /// The level to log the failure at: warning or error for the first of
        /// a streak, debug for the rest.
        var level: Logger.Level
        /// Whether this failure starts a streak (the one worth a log line).
        var startsStreak: Bool { level != .debug }
    }

    let minimumDelay: Duration
    let maximumDelay: Duration
    /// Failures since the last success.
    private(set) var failures = 0
    private var streak: Failure?
    private var delay: Duration = .zero

    init(minimumDelay: Duration, maximumDelay: Duration) {
        self.minimumDelay = max(minimumDelay, .zero)
        self.maximumDelay = max(maximumDelay, self.minimumDelay)
    }

    /// An attempt failed with `failure`.
    mutating func failed(_ failure: Failure) -> Decision {
        failures += 1
        let startsStreak = streak != failure
        streak = failure
        switch failure {
        case .outage:
            delay = startsStreak ? minimumDelay : min(delay * 2, maximumDelay)
        case .unauthorized, .refused:
            delay = maximumDelay
        }
        let level: Logger.Level = !startsStreak ? .debug : failure == .outage ? .warning : .error
        return Decision(delay: delay, level: level)
    }

    /// An attempt succeeded; returns the failures before it (0: nothing to
    /// report).
    mutating func succeeded() -> Int {
        defer {
            failures = 0
            streak = nil
            delay = .zero
        }
        return failures
    }
}
