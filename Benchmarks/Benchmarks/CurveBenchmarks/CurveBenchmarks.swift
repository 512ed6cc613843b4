import Benchmark
import BenchmarkSupport
import Cort
import Synchronization

// The price of encryption: typed remote calls (`Echo.echo(_:)`, a 64-byte
// `[UInt8]`) with CURVE against the same calls in plaintext. Each benchmark
// runs in a process of its own; its setup starts a `cort-bench-node` with the
// defaults a service gets (`Echo` on 4 replicas on the global pool), in
// plaintext or with CURVE (fresh keys, this caller's public key in the node's
// allow-list file), and a caller system in this process (callers on the
// global pool); its teardown stops both.
//
// Each measured iteration is one call, in batches of 1,000 (scaling factor
// kilo); the malloc count is the client process's, per call. The windowed
// benchmarks keep 64 calls in flight, so their time per call is the inverse
// of the throughput. `scripts/ratios.py` runs them in interleaved rounds; the
// aims: p50 at one in flight ≤ 1.2× plaintext, throughput at 64 in flight
// ≥ 70 % of plaintext's (a wall-clock ratio ≤ 1.43).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(3)
    )

    for curve in [true, false] {
        let mode = curve ? "CURVE" : "plaintext"
        let baseline = curve ? "" : " (baseline)"
        Benchmark("curve: typed round trip, \(mode), one in flight\(baseline)") { benchmark in
            let calls = try fixture.typedCalls()
            benchmark.startMeasurement()
            try await calls.roundTrips(benchmark.scaledIterations.count)
            benchmark.stopMeasurement()
        } setup: {
            try await fixture.start(curve: curve)
        } teardown: {
            await fixture.stop()
        }

        Benchmark("curve: typed throughput, \(mode), 64 in flight\(baseline)") { benchmark in
            let calls = try fixture.typedCalls()
            benchmark.startMeasurement()
            try await calls.windowed(benchmark.scaledIterations.count, window: PingPongDefaults.window)
            benchmark.stopMeasurement()
        } setup: {
            try await fixture.start(curve: curve)
        } teardown: {
            await fixture.stop()
        }
    }
}

let fixture = CurveFixture()

/// The node process, the keys and the caller of the benchmark running now.
final class CurveFixture: Sendable {
    private struct State: ~Copyable {
        var server: ServerProcess?
        var keys: CurveKeys?
        var typed: TypedCalls?
    }

    private let state = Mutex(State())

    /// Starts a `cort-bench-node` (with CURVE or in plaintext) and a caller, and warms them up.
    func start(curve: Bool) async throws {
        let keys = curve ? try CurveKeys() : nil
        do {
            let server = try ServerProcess.benchNode(curve: keys)
            do {
                let calls = try await TypedCalls.connect(to: server.endpoint, payloadSize: PingPongDefaults.payloadSize,
                                                         security: keys?.callerSecurity ?? .plaintext)
                state.withLock {
                    $0.server = server
                    $0.keys = keys
                    $0.typed = calls
                }
                try await calls.roundTrips(100)
            } catch {
                server.stop()
                throw error
            }
        } catch {
            keys?.remove()
            throw error
        }
    }

    func typedCalls() throws -> TypedCalls {
        guard let calls = state.withLock({ $0.typed }) else { throw BenchmarkFailure("no typed caller: setup did not run") }
        return calls
    }

    /// Stops the caller and the node, and deletes the keys' allow-list file.
    func stop() async {
        let (server, keys, typed) = state.withLock { state in
            defer {
                state.server = nil
                state.keys = nil
                state.typed = nil
            }
            return (state.server, state.keys, state.typed)
        }
        await typed?.stop()
        server?.stop()
        keys?.remove()
    }
}
