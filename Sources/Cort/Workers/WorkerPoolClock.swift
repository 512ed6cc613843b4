/// The pool's view of its injected clock: instants as offsets from the
/// moment the pool was made, so deadlines are plain `Duration`s that can be
/// compared without opening the `any Clock` existential on every call.
struct WorkerPoolClock: Sendable {
    let now: @Sendable () -> Duration
    let sleep: @Sendable (Duration) async throws -> Void

    init<C: Clock<Duration>>(_ clock: C) {
        let origin = clock.now
        now = { origin.duration(to: clock.now) }
        sleep = { offset in try await clock.sleep(until: origin.advanced(by: offset), tolerance: nil) }
    }
}
