import Benchmark
import BenchmarkSupport
import Synchronization

// Typed remote calls against the plain C DEALER -> ROUTER echo, each with its
// server in another process on loopback: `cort-bench-node` (the `Echo`
// service on 4 replicas, hosted as README shows: `host(_:replicas:)` with its
// defaults) and `cort-echo-server`. The headline rows call from tasks on the
// global pool, as a user's code does; the "on the reactor" rows
// (`CortSystem.taskExecutor`) and the "answerPolling .zero" row (polling for
// answers off) are options beside them. Each benchmark runs in a
// process of its own; its setup starts the server it needs and waits for it
// to answer, its teardown stops it (and a server also exits when this
// process goes away, as its standard input closes).
//
// Each measured iteration is one call, run in batches of 1,000 (scaling
// factor kilo); the malloc count is the client process's, per call. The
// windowed benchmarks keep 64 calls in flight, so their time per call is the
// inverse of the throughput. Run `scripts/ratios.py` for interleaved rounds.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(3)
    )

    // The headline row, and beside it the same calls with the reactor
    // sleeping as soon as it is idle (answerPolling: .zero): what the
    // default's polling for answers saves.
    for (option, answerPolling) in [("", nil), ("answerPolling .zero, ", .zero)] as [(String, Duration?)] {
        Benchmark("calls: typed round trip, \(option)one in flight") { benchmark in
            let calls = try fixture.typedCalls()
            benchmark.startMeasurement()
            try await calls.roundTrips(benchmark.scaledIterations.count)
            benchmark.stopMeasurement()
        } setup: {
            try await fixture.startTyped(answerPolling: answerPolling)
        } teardown: {
            await fixture.stop()
        }
    }

    // The same calls from a task on the caller system's reactor
    // (CortSystem.taskExecutor): no thread hop between the caller and the
    // actor that owns the socket.
    Benchmark("calls: typed round trip, caller on the reactor, one in flight") { benchmark in
        let calls = try fixture.typedCalls()
        benchmark.startMeasurement()
        try await calls.roundTripsOnReactor(benchmark.scaledIterations.count)
        benchmark.stopMeasurement()
    } setup: {
        try await fixture.startTyped()
    } teardown: {
        await fixture.stop()
    }

    Benchmark("calls: typed throughput, callers on the reactor, 64 in flight") { benchmark in
        let calls = try fixture.typedCalls()
        benchmark.startMeasurement()
        try await calls.windowedOnReactor(benchmark.scaledIterations.count, window: PingPongDefaults.window)
        benchmark.stopMeasurement()
    } setup: {
        try await fixture.startTyped()
    } teardown: {
        await fixture.stop()
    }

    Benchmark("calls: C echo round trip, one in flight (baseline)") { benchmark in
        try fixture.withCEcho { echo in
            benchmark.startMeasurement()
            try echo.roundTrips(benchmark.scaledIterations.count)
            benchmark.stopMeasurement()
        }
    } setup: {
        try fixture.startCEcho()
    } teardown: {
        await fixture.stop()
    }

    // Each side alone (scripts/sides.py has the interleaved figures): a
    // plain C caller of a cort node, and cort's caller of a C server that
    // answers as a node hosting Echo (`cort-echo-server ENDPOINT cort`).
    for window in [1, PingPongDefaults.window] {
        let shape = window == 1 ? "round trip, one in flight" : "throughput, \(window) in flight"
        Benchmark("calls: C caller to a cort node, \(shape)") { benchmark in
            try fixture.withCCaller { caller, frames in
                benchmark.startMeasurement()
                try caller.calls(frames, count: benchmark.scaledIterations.count)
                benchmark.stopMeasurement()
            }
        } setup: {
            try await fixture.startCCaller(window: window)
        } teardown: {
            await fixture.stop()
        }

        Benchmark("calls: typed \(shape), to a C server") { benchmark in
            let calls = try fixture.typedCalls()
            benchmark.startMeasurement()
            if window == 1 {
                try await calls.roundTrips(benchmark.scaledIterations.count)
            } else {
                try await calls.windowed(benchmark.scaledIterations.count, window: window)
            }
            benchmark.stopMeasurement()
        } setup: {
            try await fixture.startTyped(server: "cort-echo-server", arguments: ["tcp://127.0.0.1:*", "cort"])
        } teardown: {
            await fixture.stop()
        }
    }

    for window in [PingPongDefaults.window, 256] {
        Benchmark("calls: typed throughput, \(window) in flight") { benchmark in
            let calls = try fixture.typedCalls()
            benchmark.startMeasurement()
            try await calls.windowed(benchmark.scaledIterations.count, window: window)
            benchmark.stopMeasurement()
        } setup: {
            try await fixture.startTyped()
        } teardown: {
            await fixture.stop()
        }

        Benchmark("calls: C echo throughput, \(window) in flight (baseline)") { benchmark in
            try fixture.withCEcho { echo in
                benchmark.startMeasurement()
                try echo.windowed(benchmark.scaledIterations.count, window: window)
                benchmark.stopMeasurement()
            }
        } setup: {
            try fixture.startCEcho()
        } teardown: {
            await fixture.stop()
        }
    }
}

let fixture = CallFixture()

/// The server process and the client of the benchmark running now.
final class CallFixture: Sendable {
    private struct State: ~Copyable {
        var server: ServerProcess?
        var typed: TypedCalls?
        var cEcho: CEcho?
        /// What the C caller of a cort node sends.
        var frames: CallFrames?
    }

    private let state = Mutex(State())

    /// Starts a `cort-bench-node` (or `server` with `arguments`) and a
    /// typed caller, and warms them up.
    func startTyped(server name: String = "cort-bench-node", arguments: [String] = [],
                    answerPolling: Duration? = nil) async throws {
        let server = try ServerProcess(executable: ServerProcess.executable(named: name), arguments: arguments)
        do {
            let calls = try await TypedCalls.connect(to: server.endpoint, payloadSize: PingPongDefaults.payloadSize,
                                                     answerPolling: answerPolling)
            state.withLock {
                $0.server = server
                $0.typed = calls
            }
            try await calls.roundTrips(100)
        } catch {
            server.stop()
            throw error
        }
    }

    /// Starts a `cort-echo-server` and a C client, and warms them up.
    func startCEcho() throws {
        let server = try ServerProcess(executable: ServerProcess.executable(named: "cort-echo-server"))
        do {
            // Made inside the lock: the client is not Sendable, and lives in the state.
            try state.withLock { state in
                let echo = try CEcho(connectingTo: server.endpoint, payloadSize: PingPongDefaults.payloadSize)
                try echo.roundTrips(100)
                state.server = server
                state.cEcho = echo
            }
        } catch {
            server.stop()
            throw error
        }
    }

    /// Starts a `cort-bench-node` and a plain C caller of it with `window`
    /// requests to keep in flight, and warms them up.
    func startCCaller(window: Int) async throws {
        let server = try ServerProcess(executable: ServerProcess.executable(named: "cort-bench-node"))
        do {
            let request = try await RawRequestFrame.captureEcho(payloadSize: PingPongDefaults.payloadSize)
            // Made inside the lock: the client is not Sendable, and lives in the state.
            try state.withLock { state in
                let (caller, frames) = try CEcho.callerOfNode(at: server.endpoint, request: request, window: window)
                state.server = server
                state.cEcho = caller
                state.frames = frames
            }
        } catch {
            server.stop()
            throw error
        }
    }

    /// Runs `body` with the C caller of a cort node and its requests.
    func withCCaller(_ body: (CEcho, CallFrames) throws -> Void) throws {
        try state.withLock { state in
            guard let caller = state.cEcho, let frames = state.frames else {
                throw BenchmarkFailure("no C caller: setup did not run")
            }
            try body(caller, frames)
        }
    }

    func typedCalls() throws -> TypedCalls {
        guard let calls = state.withLock({ $0.typed }) else { throw BenchmarkFailure("no typed caller: setup did not run") }
        return calls
    }

    /// Runs `body` with the C client, which is used by one thread at a time.
    func withCEcho(_ body: (CEcho) throws -> Void) throws {
        try state.withLock { state in
            guard let echo = state.cEcho else { throw BenchmarkFailure("no C client: setup did not run") }
            try body(echo)
        }
    }

    /// Stops the client and the server.
    func stop() async {
        let (server, typed) = state.withLock { state in
            state.cEcho = nil
            state.frames = nil
            defer {
                state.server = nil
                state.typed = nil
            }
            return (state.server, state.typed)
        }
        await typed?.stop()
        server?.stop()
    }
}
