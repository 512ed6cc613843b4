import Benchmark
import BenchmarkSupport
import Cort
import Synchronization

// The price of cort's own tracing and metrics interceptors, on by default
// (`CortSystem.Configuration.instrumented`): typed remote calls
// (`Echo.echo(_:)`, a 64-byte `[UInt8]`) with the default configuration
// against the same calls with `instrumented: false`, on both sides. Each
// benchmark runs in a process of its own; its setup starts a
// `cort-bench-node` with a service's defaults (`Echo` on 4 replicas on the
// global pool), configured as the caller system it then starts in this
// process (callers on the global pool); its teardown stops both.
//
// With nothing bootstrapped the interceptors only look whether a tracer or a
// metrics backend is there. The `Prometheus` rows bootstrap swift-prometheus's
// `PrometheusMetricsFactory` in this process and in the node before their
// systems start (each benchmark has a process of its own, so the bootstrap
// stays in its rows); read them against the same baseline, for the whole
// cost of recording every call.
//
// Each measured iteration is one call, in batches of 1,000 (scaling factor
// kilo); the malloc count is the client process's, per call. The
// `interceptors:` rows run cort's default chains alone, on a captured call
// (see InterceptorChains), against the empty chain: one iteration is one
// chain run, in this process. The windowed
// benchmarks keep 64 calls in flight, so their time per call is the inverse
// of the throughput. `scripts/ratios.py` runs them in interleaved rounds.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(3)
    )

    let modes: [(name: String, instrumented: Bool, prometheus: Bool)] = [
        ("instrumented (default)", true, false),
        ("instrumented: false", false, false),
        ("instrumented, Prometheus bootstrapped", true, true),
    ]
    for mode in modes {
        let baseline = mode.instrumented ? "" : " (baseline)"
        Benchmark("instrumented: typed round trip, \(mode.name), one in flight\(baseline)") { benchmark in
            let calls = try fixture.typedCalls()
            benchmark.startMeasurement()
            try await calls.roundTrips(benchmark.scaledIterations.count)
            benchmark.stopMeasurement()
        } setup: {
            try await fixture.start(instrumented: mode.instrumented, prometheus: mode.prometheus)
        } teardown: {
            await fixture.stop()
        }

        Benchmark("instrumented: typed throughput, \(mode.name), 64 in flight\(baseline)") { benchmark in
            let calls = try fixture.typedCalls()
            benchmark.startMeasurement()
            try await calls.windowed(benchmark.scaledIterations.count, window: PingPongDefaults.window)
            benchmark.stopMeasurement()
        } setup: {
            try await fixture.start(instrumented: mode.instrumented, prometheus: mode.prometheus)
        } teardown: {
            await fixture.stop()
        }
    }

    // The interceptors alone (see InterceptorChains): cort's default chain on
    // each side around a body that returns a captured result, against the
    // empty chain (the body alone). Time and mallocs per chain run.
    for mode in [(name: "default, nothing bootstrapped", prometheus: false),
                 (name: "default, Prometheus bootstrapped", prometheus: true)] {
        Benchmark("interceptors: client chain, \(mode.name)") { benchmark in
            let chains = try chainsFixture.chains()
            let chain = chains.defaultClient
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try await chains.runClient(chain))
            }
            benchmark.stopMeasurement()
        } setup: {
            try await chainsFixture.start(prometheus: mode.prometheus)
        }

        Benchmark("interceptors: server chain, \(mode.name)") { benchmark in
            let chains = try chainsFixture.chains()
            let chain = chains.defaultServer
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                blackHole(try await chains.runServer(chain))
            }
            benchmark.stopMeasurement()
        } setup: {
            try await chainsFixture.start(prometheus: mode.prometheus)
        }
    }

    Benchmark("interceptors: client chain, empty (baseline)") { benchmark in
        let chains = try chainsFixture.chains()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await chains.runClient([]))
        }
        benchmark.stopMeasurement()
    } setup: {
        try await chainsFixture.start(prometheus: false)
    }

    Benchmark("interceptors: server chain, empty (baseline)") { benchmark in
        let chains = try chainsFixture.chains()
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try await chains.runServer([]))
        }
        benchmark.stopMeasurement()
    } setup: {
        try await chainsFixture.start(prometheus: false)
    }
}

let chainsFixture = ChainsFixture()

/// The captured call values of the interceptor rows (one capture per process).
final class ChainsFixture: Sendable {
    private let captured = Mutex<InterceptorChains?>(nil)

    func start(prometheus: Bool) async throws {
        if prometheus { BenchInstrumentation.bootstrapPrometheus() }
        guard captured.withLock({ $0 }) == nil else { return }
        let chains = try await InterceptorChains.capture()
        captured.withLock { $0 = chains }
    }

    func chains() throws -> InterceptorChains {
        guard let chains = captured.withLock({ $0 }) else { throw BenchmarkFailure("no captured call: setup did not run") }
        return chains
    }
}

let fixture = InstrumentedFixture()

/// The node process and the caller of the benchmark running now.
final class InstrumentedFixture: Sendable {
    private struct State: ~Copyable {
        var server: ServerProcess?
        var typed: TypedCalls?
    }

    private let state = Mutex(State())

    /// Starts a `cort-bench-node` and a caller, both `instrumented` and both
    /// with Prometheus bootstrapped when `prometheus`, and warms them up.
    func start(instrumented: Bool, prometheus: Bool) async throws {
        if prometheus { BenchInstrumentation.bootstrapPrometheus() }
        let server = try ServerProcess.benchNode(instrumented: instrumented, prometheus: prometheus)
        do {
            let calls = try await TypedCalls.connect(to: server.endpoint, payloadSize: PingPongDefaults.payloadSize,
                                                     instrumented: instrumented)
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

    func typedCalls() throws -> TypedCalls {
        guard let calls = state.withLock({ $0.typed }) else { throw BenchmarkFailure("no typed caller: setup did not run") }
        return calls
    }

    /// Stops the caller and the node.
    func stop() async {
        let (server, typed) = state.withLock { state in
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
