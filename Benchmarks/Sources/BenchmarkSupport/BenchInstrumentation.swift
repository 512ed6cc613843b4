import CoreMetrics
import Foundation
import Prometheus
import Synchronization

/// What the instrumentation probe and benchmarks switch: whether a system
/// runs cort's own tracing and metrics interceptors
/// (`CortSystem.Configuration.instrumented`, on by default), and whether the
/// process has a metrics backend bootstrapped (swift-prometheus's
/// `PrometheusMetricsFactory`; cort never bootstraps one).
///
/// `cort-bench-node` reads the same choices from its environment:
/// ``instrumentedVariable`` (`false` starts its system with
/// `instrumented: false`), ``metricsVariable`` (`prometheus` bootstraps the
/// backend before the system starts) and ``metricsDumpVariable`` (a path the
/// node writes its registry's text to when it stops, to show what was
/// recorded).
public enum BenchInstrumentation {
    /// `false` (or `0`): the node's system runs with `instrumented: false`.
    public static let instrumentedVariable = "CORT_BENCH_INSTRUMENTED"
    /// `prometheus`: the node bootstraps `PrometheusMetricsFactory`.
    public static let metricsVariable = "CORT_BENCH_METRICS"
    /// A file the node writes its Prometheus registry's text to as it stops.
    public static let metricsDumpVariable = "CORT_BENCH_METRICS_DUMP"

    /// The node's `instrumented`, from ``instrumentedVariable`` (default true).
    public static func instrumented(in environment: [String: String]) -> Bool {
        guard let value = environment[instrumentedVariable]?.lowercased() else { return true }
        return !["false", "0", "no", "off"].contains(value)
    }

    /// The environment of a `cort-bench-node` with these choices.
    public static func nodeEnvironment(instrumented: Bool, prometheus: Bool, dump: String? = nil) -> [String: String] {
        var environment: [String: String] = [:]
        if !instrumented { environment[instrumentedVariable] = "false" }
        if prometheus { environment[metricsVariable] = "prometheus" }
        if let dump { environment[metricsDumpVariable] = dump }
        return environment
    }

    private static let bootstrapped = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Bootstraps `MetricsSystem` with a `PrometheusMetricsFactory` on a
    /// registry of its own (once per process: later calls return the same
    /// registry).
    @discardableResult
    public static func bootstrapPrometheus() -> PrometheusCollectorRegistry {
        bootstrapped.withLock { registry in
            if let registry { return registry }
            let made = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: made))
            registry = made
            return made
        }
    }

    /// The registry ``bootstrapPrometheus()`` made, if it ran.
    public static var prometheusRegistry: PrometheusCollectorRegistry? {
        bootstrapped.withLock { $0 }
    }

    /// The sum of the samples of metric `name` (all its label sets) in
    /// Prometheus text, e.g. the calls counted in `cort_client_calls_total`.
    public static func total(of name: String, in text: String) -> Double {
        var sum = 0.0
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let metric = line.prefix { $0 != "{" && $0 != " " }
            guard metric == name, let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            sum += value
        }
        return sum
    }
}

extension ServerProcess {
    /// Starts a plaintext `cort-bench-node` (`Echo` on `replicas` replicas on
    /// `executor`) whose system runs with `instrumented`, with
    /// `PrometheusMetricsFactory` bootstrapped when `prometheus`; with
    /// `metricsDump`, it writes its registry's text there as it stops.
    public static func benchNode(
        replicas: Int = 4, executor: String = "reactor", instrumented: Bool, prometheus: Bool = false,
        metricsDump: String? = nil
    ) throws -> ServerProcess {
        try ServerProcess(executable: executable(named: "cort-bench-node"),
                          arguments: ["tcp://127.0.0.1:0", "\(replicas)", executor, "plaintext"],
                          environment: BenchInstrumentation.nodeEnvironment(
                              instrumented: instrumented, prometheus: prometheus, dump: metricsDump))
    }
}
