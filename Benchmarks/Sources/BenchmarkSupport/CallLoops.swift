/// The loops the probe's Swift callers share: calls one at a time, each
/// timed, and calls spread over tasks that keep a window of them in flight.
///
/// ```swift
/// let times = try await CallLoops.latencies(1_000) { _ = try await echo.echo(payload) }
/// try await CallLoops.windowed(50_000, window: 64) { _ = try await echo.echo(payload) }
/// ```
enum CallLoops {
    /// `count` calls, one at a time: each one's time.
    static func latencies(_ count: Int, _ call: () async throws -> Void) async throws -> [Duration] {
        let clock = ContinuousClock()
        var times: [Duration] = []
        times.reserveCapacity(count)
        for _ in 0..<count {
            let started = clock.now
            try await call()
            times.append(clock.now - started)
        }
        return times
    }

    /// `count` calls from `window` tasks sharing them out, each calling in
    /// turn; the tasks prefer `executor` (nil: the global pool).
    static func windowed(_ count: Int, window: Int, executor: (any TaskExecutor)? = nil,
                         _ call: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<window {
                let share = count / window + (lane < count % window ? 1 : 0)
                guard share > 0 else { continue }
                // Plain `addTask` when there is no preference: made with
                // `executorPreference: nil`, the tasks' typed calls cost about
                // 4,300 instructions a call more (callgrind, 64 in flight;
                // the runtime's look-ups of the task's executor preference).
                if let executor {
                    group.addTask(executorPreference: executor) {
                        for _ in 0..<share { try await call() }
                    }
                } else {
                    group.addTask {
                        for _ in 0..<share { try await call() }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}
