import Synchronization

/// A clock that moves only when a test advances it, for timers on virtual
/// time. It reports every sleep that has to wait (as the requested duration)
/// on ``sleeps``, and counts every sleep it is asked for, so a test can wait
/// until a timer is set (``waitForSleeps(_:)``).
///
/// Anything in cort that keeps time takes a `Clock`; give it a `TestClock` and
/// a test decides when time passes, so TTLs, deadlines and waits of minutes
/// run in microseconds and never depend on the machine's speed:
///
/// ```swift
/// let clock = TestClock()
/// let consul = try await ConsulAgentDouble.start(clock: clock)
/// // register a service with a 10s TTL check, then:
/// clock.advance(by: .seconds(11))   // the check is now critical, "TTL expired"
/// ```
public final class TestClock: Clock, Sendable {
    /// A point on the test clock: the virtual time since the clock was made.
    public struct Instant: InstantProtocol {
        /// Virtual time since the clock was made.
        public var offset: Duration

        /// Makes the instant `offset` after the clock's start.
        public init(offset: Duration) { self.offset = offset }

        /// The instant `duration` later.
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }

        /// The time from this instant to `other`.
        public func duration(to other: Instant) -> Duration { other.offset - offset }

        /// Whether `lhs` comes before `rhs`.
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct Sleeper {
        let deadline: Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [UInt64: Sleeper] = [:]
        /// Sleeps cancelled before they were registered.
        var cancelled: Set<UInt64> = []
        var nextID: UInt64 = 0
        var sleepsStarted = 0
        var countWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

        /// Counts a sleep; returns the waiters it satisfies.
        mutating func countSleep() -> [CheckedContinuation<Void, Never>] {
            sleepsStarted += 1
            let ready = countWaiters.filter { $0.count <= sleepsStarted }.map(\.continuation)
            countWaiters.removeAll { $0.count <= sleepsStarted }
            return ready
        }
    }

    /// Every sleep that had to wait, as the duration it asked for (sleeps
    /// already due are not reported).
    public let sleeps: AsyncStream<Duration>
    private let sleepSink: AsyncStream<Duration>.Continuation
    private let state = Mutex(State())

    /// Makes a clock that stands at zero until ``advance(by:)`` moves it.
    public init() {
        (sleeps, sleepSink) = AsyncStream<Duration>.makeStream()
    }

    /// The current virtual time.
    public var now: Instant { state.withLock { $0.now } }

    /// Zero: virtual time has no granularity.
    public var minimumResolution: Duration { .zero }

    /// Suspends until ``advance(by:)`` moves the clock to `deadline` or past
    /// it; returns at once when it is already there. Cancelling the task ends
    /// the sleep with `CancellationError`.
    public func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case wait(Duration), due, cancelled }
                let (outcome, counted): (Outcome, [CheckedContinuation<Void, Never>]) = state.withLock { state in
                    let counted = state.countSleep()
                    if state.cancelled.remove(id) != nil { return (.cancelled, counted) }
                    if deadline <= state.now { return (.due, counted) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return (.wait(state.now.duration(to: deadline)), counted)
                }
                switch outcome {
                case .wait(let duration): sleepSink.yield(duration)
                case .due: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                }
                for waiter in counted { waiter.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { state in
                let sleeper = state.sleepers.removeValue(forKey: id)
                if sleeper == nil { state.cancelled.insert(id) }
                return sleeper
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// How many sleeps have been asked for so far, the ones already due
    /// included: with ``waitForSleeps(_:)``, a test waits for the next one.
    public var sleepsStarted: Int { state.withLock { $0.sleepsStarted } }

    /// Returns once `count` sleeps in all have been asked for (counting the
    /// ones that were already due), so a test knows a timer is set before it
    /// moves the clock.
    public func waitForSleeps(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                if state.sleepsStarted >= count { return true }
                state.countWaiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Moves the clock forward and wakes every sleep whose deadline it reached.
    public func advance(by duration: Duration) {
        let due = state.withLock { state in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            for id in due.keys { state.sleepers[id] = nil }
            return due.values.map(\.continuation)
        }
        for continuation in due { continuation.resume() }
    }
}
