#if ConsulAgentDouble
/// A clock reduced to what the double needs, without making the double
/// generic: the time since the agent started, and a sleep until such a time.
struct ElapsedClock: Sendable {
    let elapsed: @Sendable () -> Duration
    let sleepUntil: @Sendable (Duration) async throws -> Void

    init<C: Clock<Duration>>(_ clock: C) {
        let origin = clock.now
        elapsed = { origin.duration(to: clock.now) }
        sleepUntil = { try await clock.sleep(until: origin.advanced(by: $0), tolerance: nil) }
    }
}

#endif
