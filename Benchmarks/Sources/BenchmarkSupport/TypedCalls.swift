import Cort
import Distributed

/// A caller of the ``Echo`` service on a node in another process: the typed
/// counterpart of ``CEcho/init(connectingTo:payloadSize:)``.
public final class TypedCalls: Sendable {
    private let system: CortSystem
    private let echo: Echo
    private let payload: [UInt8]

    private init(system: CortSystem, echo: Echo, payloadSize: Int) {
        self.system = system
        self.echo = echo
        self.payload = [UInt8](repeating: 0x5a, count: payloadSize)
    }

    /// Starts a caller system that finds the echo service at `endpoint`, and
    /// makes one call, so that it returns once the node answers (or throws
    /// after the call's deadline). With CURVE `security`, `endpoint` carries
    /// the node's public key (`tcp://…|<key>`, as a CURVE `cort-bench-node`
    /// prints it). `instrumented: false` turns cort's own tracing and
    /// metrics interceptors off (`CortSystem.Configuration.instrumented`);
    /// `answerPolling` replaces the default's (`CortSystem.Configuration.answerPolling`).
    public static func connect(
        to endpoint: String, payloadSize: Int, security: Security = .plaintext, instrumented: Bool = true,
        answerPolling: Duration? = nil, ioThreadScheduling: CortSystem.IOThreadScheduling? = nil
    ) async throws -> TypedCalls {
        let discovery = try StaticDiscovery([Echo.serviceName: [endpoint]])
        var configuration = CortSystem.Configuration(name: "bench-caller", discovery: discovery,
                                                     defaultTimeout: .seconds(5), security: security,
                                                     instrumented: instrumented)
        if let answerPolling { configuration.answerPolling = answerPolling }
        if let ioThreadScheduling { configuration.ioThreadScheduling = ioThreadScheduling }
        let system = try CortSystem.start(configuration)
        do {
            let echo = try Echo.resolve(id: .service(Echo.serviceName), using: system)
            let calls = TypedCalls(system: system, echo: echo, payloadSize: payloadSize)
            let reply = try await echo.echo(calls.payload)
            guard reply == calls.payload else { throw BenchmarkFailure("the echo node answered \(reply.count) bytes, not the payload") }
            return calls
        } catch {
            await system.shutdown()
            throw error
        }
    }

    /// `count` typed calls, one in flight.
    public func roundTrips(_ count: Int) async throws {
        for _ in 0..<count {
            _ = try await echo.echo(payload)
        }
    }

    /// `count` typed calls, one in flight, each timed.
    public func latencies(_ count: Int) async throws -> [Duration] {
        try await CallLoops.latencies(count) { [echo, payload] in _ = try await echo.echo(payload) }
    }

    /// `count` typed calls, one in flight, from a task on the caller
    /// system's reactor (``CortSystem/taskExecutor``): no thread hop per call.
    public func roundTripsOnReactor(_ count: Int) async throws {
        try await Task(executorPreference: system.taskExecutor) { [echo, payload] in
            for _ in 0..<count {
                _ = try await echo.echo(payload)
            }
        }.value
    }

    /// `count` typed calls with `window` in flight: `window` tasks sharing
    /// the calls out between them.
    public func windowed(_ count: Int, window: Int) async throws {
        try await CallLoops.windowed(count, window: window) { [echo, payload] in _ = try await echo.echo(payload) }
    }

    /// `count` typed calls with `window` in flight, the `window` tasks on the
    /// caller system's reactor (``CortSystem/taskExecutor``).
    public func windowedOnReactor(_ count: Int, window: Int) async throws {
        try await CallLoops.windowed(count, window: window, executor: system.taskExecutor) { [echo, payload] in
            _ = try await echo.echo(payload)
        }
    }

    /// Calls one at a time until `duration` has passed, and returns each
    /// call's time.
    public func timedRoundTrips(for duration: Duration) async throws -> [Duration] {
        let clock = ContinuousClock()
        var times: [Duration] = []
        times.reserveCapacity(1 << 16)
        let end = clock.now + duration
        var started = clock.now
        while started < end {
            _ = try await echo.echo(payload)
            let ended = clock.now
            times.append(ended - started)
            started = ended
        }
        return times
    }

    /// Calls with `window` in flight (`window` tasks, each making its next
    /// call when its last one ends) until `duration` has passed, and returns
    /// how many calls ended and the time from the start until the last one did.
    public func windowed(for duration: Duration, window: Int) async throws -> (calls: Int, elapsed: Duration) {
        let clock = ContinuousClock()
        let start = clock.now
        let end = start + duration
        let calls = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<window {
                group.addTask { [echo, payload] in
                    var made = 0
                    while clock.now < end {
                        _ = try await echo.echo(payload)
                        made += 1
                    }
                    return made
                }
            }
            return try await group.reduce(0, +)
        }
        return (calls, clock.now - start)
    }

    /// Shuts the caller system down.
    public func stop() async {
        await system.shutdown()
    }
}
