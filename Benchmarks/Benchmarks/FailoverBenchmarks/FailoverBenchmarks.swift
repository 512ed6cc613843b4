import Benchmark
import BenchmarkSupport
import Cort
import Foundation
import Synchronization

// Typed calls to the `Echo` service on 3 `cort-bench-node` processes, 16 in
// flight (batches of 1,000 calls), three ways:
//
// - kill: a quarter of the way into every batch one node is killed with
//   SIGKILL, so the calls in flight on it must move to the two others
//   (`echo(_:)` is idempotent). After the batch, outside the measurement, a
//   replacement starts on a new port and is announced and the dead node is
//   withdrawn, so every batch starts with 3 live nodes. Starting a process
//   costs far more CPU than the failover on this 2-core machine, which is why
//   it is not measured.
// - withdrawn (baseline): at the same call, one node is withdrawn from
//   discovery instead (it drains: the calls on it end normally, no new ones
//   go to it) and announced again after the batch. Two nodes then share the
//   two CPUs with the caller instead of three, which alone makes calls faster
//   here, so this, not the steady run, is what isolates the failure's cost.
// - steady (baseline): no change at all.
//
// Wall clock is per call (batch time / 1,000): the failover's cost spread
// over the batch, read as a ratio against a baseline (see the README).
// "Call latency (µs)" has every call's own time, so its p99 and max show the
// calls a failover holds up; "Slowest call (µs)" is one value per batch, so
// its p50 is the typical stall of the calls caught on the killed node. A
// failed call fails the benchmark: every call here is idempotent, so none may.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, FailoverMetrics.latency, FailoverMetrics.slowest, FailoverMetrics.failed],
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 40
    )

    Benchmark("failover: kill -9 one of 3 nodes per batch, 16 in flight") { benchmark in
        let cluster = try fixture.cluster()
        let calls = benchmark.scaledIterations.count
        guard let victim = cluster.nodes.first else { throw BenchmarkFailure("the cluster has no node") }
        let load = EchoLoad(echo: cluster.echo, method: .echo)
        benchmark.startMeasurement()
        let records = await load.run(
            window: FailoverMetrics.window, calls: calls, trigger: (calls / 4, { victim.signal(SIGKILL) }))
        benchmark.stopMeasurement()
        try FailoverMetrics.report(records, to: benchmark)
        try await cluster.waitUntilServing(cluster.replace(victim))
    } setup: {
        try await fixture.start()
    } teardown: {
        await fixture.stop()
    }

    Benchmark("failover: one of 3 nodes withdrawn per batch, 16 in flight (baseline)") { benchmark in
        let cluster = try fixture.cluster()
        let calls = benchmark.scaledIterations.count
        guard let node = cluster.nodes.first else { throw BenchmarkFailure("the cluster has no node") }
        let load = EchoLoad(echo: cluster.echo, method: .echo)
        let withdrawal = Mutex<(any Error)?>(nil)
        benchmark.startMeasurement()
        let records = await load.run(window: FailoverMetrics.window, calls: calls, trigger: (calls / 4, {
            do {
                try await cluster.withdraw(node)
            } catch {
                withdrawal.withLock { $0 = error }
            }
        }))
        benchmark.stopMeasurement()
        if let error = withdrawal.withLock({ $0 }) { throw error }
        try FailoverMetrics.report(records, to: benchmark)
        try await cluster.announce(node)
        try await cluster.waitUntilServing(node)
    } setup: {
        try await fixture.start()
    } teardown: {
        await fixture.stop()
    }

    Benchmark("failover: steady, 3 nodes, 16 in flight (baseline)") { benchmark in
        let cluster = try fixture.cluster()
        let load = EchoLoad(echo: cluster.echo, method: .echo)
        benchmark.startMeasurement()
        let records = await load.run(window: FailoverMetrics.window, calls: benchmark.scaledIterations.count)
        benchmark.stopMeasurement()
        try FailoverMetrics.report(records, to: benchmark)
    } setup: {
        try await fixture.start()
    } teardown: {
        await fixture.stop()
    }
}

/// The metrics the benchmarks report besides the harness's own.
enum FailoverMetrics {
    static let window = 16
    static let latency = BenchmarkMetric.custom("Call latency (µs)", useScalingFactor: false)
    static let slowest = BenchmarkMetric.custom("Slowest call (µs)", useScalingFactor: false)
    static let failed = BenchmarkMetric.custom("Failed calls", useScalingFactor: false)

    /// Records every call's latency and the batch's slowest and failures;
    /// throws (failing the benchmark) if any call failed.
    static func report(_ records: [CallRecord], to benchmark: Benchmark) throws {
        var slowest = Duration.zero
        var failures: [CallRecord] = []
        for record in records {
            benchmark.measurement(latency, microseconds(record.latency))
            slowest = max(slowest, record.latency)
            if !record.succeeded { failures.append(record) }
        }
        benchmark.measurement(self.slowest, microseconds(slowest))
        benchmark.measurement(failed, failures.count)
        if let first = failures.first {
            throw BenchmarkFailure("\(failures.count) of \(records.count) idempotent calls failed; the first: \(first.outcome)")
        }
    }

    private static func microseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000)
    }
}

let fixture = FailoverFixture()

/// The nodes and the caller of the benchmark running now.
final class FailoverFixture: Sendable {
    private let current = Mutex<EchoCluster?>(nil)

    /// Starts 3 nodes and a caller (heartbeats every 100 ms, dead after 3
    /// silent intervals), and warms them up.
    func start() async throws {
        let cluster = try await EchoCluster.start(
            nodes: 3, heartbeat: HeartbeatConfiguration(interval: .milliseconds(100), liveness: 3))
        current.withLock { $0 = cluster }
        let records = await EchoLoad(echo: cluster.echo, method: .echo).run(window: FailoverMetrics.window, calls: 2_000)
        if let failure = records.first(where: { !$0.succeeded }) {
            throw BenchmarkFailure("a warm-up call failed: \(failure.outcome)")
        }
    }

    func cluster() throws -> EchoCluster {
        guard let cluster = current.withLock({ $0 }) else { throw BenchmarkFailure("no cluster: setup did not run") }
        return cluster
    }

    /// Stops the caller and every node.
    func stop() async {
        await current.withLock { $0.take() }?.stop()
    }
}
