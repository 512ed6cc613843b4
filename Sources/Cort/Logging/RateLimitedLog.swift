import Logging

/// Log lines that a peer can cause, at most one per cause and interval.
///
/// A node or caller logs what hostile or broken peers do (garbage frames,
/// callers that stop reading), and a peer can do it a million times a
/// second. The first line of a cause is written at once; the repeats within
/// the interval are counted, and the next line of that cause (after the
/// interval) says how many were left out. Causes are the program's own
/// fixed keys, never text a peer sent, so the table stays small.
///
/// ```swift
/// var log = RateLimitedLog(logger: logger, interval: .seconds(10))
/// log.log(.warning, "answer-dropped", "an answer could not be sent: the caller's queue is full", at: clock.now)
/// ```
struct RateLimitedLog {
    private struct Cause {
        var writtenAt: Duration
        var suppressed: Int
    }

    let logger: Logger
    let interval: Duration
    private var causes: [String: Cause] = [:]
    /// The most causes tracked; beyond it, new causes are written unlimited
    /// (they are the program's keys, so this is never reached in practice).
    private let maxCauses = 256

    init(logger: Logger, interval: Duration = .seconds(10)) {
        self.logger = logger
        self.interval = interval
    }

    /// Logs `message` unless a line of `cause` was written less than an interval ago.
    mutating func log(_ level: Logger.Level, _ cause: String, _ message: @autoclosure () -> Logger.Message,
                      metadata: @autoclosure () -> Logger.Metadata = [:], at now: Duration) {
        guard logger.logLevel <= level else { return }
        if var known = causes[cause] {
            guard now - known.writtenAt >= interval else {
                known.suppressed += 1
                causes[cause] = known
                return
            }
            var metadata = metadata()
            if known.suppressed > 0 {
                metadata["cort.log.suppressed"] = "\(known.suppressed)"
            }
            causes[cause] = Cause(writtenAt: now, suppressed: 0)
            logger.log(level: level, message(), metadata: metadata)
            return
        }
        if causes.count < maxCauses {
            causes[cause] = Cause(writtenAt: now, suppressed: 0)
        }
        logger.log(level: level, message(), metadata: metadata())
    }

    /// How many lines of `cause` were left out since its last line (for tests).
    func suppressed(_ cause: String) -> Int {
        causes[cause]?.suppressed ?? 0
    }
}
