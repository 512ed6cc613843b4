// A copy of Tests/CortTests/TestClock.swift: test targets cannot share sources.
import Synchronization

/// A clock that moves only when a test advances it, for timers on virtual
/// time. It reports every sleep that has to wait (as the requested duration)
/// on ``sleeps``, and counts every sleep it is asked for, so a test can wait
/// until a timer is set (``waitForSleeps(_:)``).
final class TestClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
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

    let sleeps: AsyncStream<Duration>
    private let sleepSink: AsyncStream<Duration>.Continuation
    private let state = Mutex(State())

    init() {
        (sleeps, sleepSink) = AsyncStream<Duration>.makeStream()
    }

    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
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

    /// Returns once `count` sleeps in all have been asked for.
    func waitForSleeps(_ count: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                if state.sleepsStarted >= count { return true }
                state.countWaiters.append((count, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func advance(by duration: Duration) {
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
