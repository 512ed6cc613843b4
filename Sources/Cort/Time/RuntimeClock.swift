/// The time every cort timer reads: offsets from the moment the clock was
/// made, on an injectable `Clock`, so tests can run timers on virtual time.
/// `package`: CortConsul's `ConsulDiscovery` runs its TTL passes and retries on it.
package struct RuntimeClock: Sendable {
    private let nowFunction: @Sendable () -> Duration
    private let sleepFunction: @Sendable (Duration) async throws -> Void
    /// Whether this is the machine's own clock (`ContinuousClock`), not a test's virtual one.
    package let isContinuous: Bool

    package init<C: Clock>(_ clock: C) where C.Duration == Duration {
        if let continuous = clock as? ContinuousClock {
            // The usual clock, read without going through `Clock`'s witnesses:
            // made from an `any Clock`, the generic closures below run
            // unspecialized, and time is read several times a call.
            let start = continuous.now
            nowFunction = { start.duration(to: ContinuousClock.now) }
            sleepFunction = { offset in try await continuous.sleep(until: start.advanced(by: offset), tolerance: nil) }
            isContinuous = true
            return
        }
        let start = clock.now
        nowFunction = { start.duration(to: clock.now) }
        sleepFunction = { offset in try await clock.sleep(until: start.advanced(by: offset), tolerance: nil) }
        isContinuous = false
    }

    /// Time since the clock was made.
    package var now: Duration { nowFunction() }

    /// Sleeps until `now` reaches `deadline` (throws when cancelled).
    package func sleep(until deadline: Duration) async throws {
        try await sleepFunction(deadline)
    }
}
