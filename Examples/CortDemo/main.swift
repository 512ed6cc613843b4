// cort's demo: three nodes of a "greeter" service and a caller, all in this
// process but talking over real TCP ports on loopback, found through
// LocalDiscovery (the embedded default: no Consul needed). The caller makes
// typed calls from many tasks at once and reports what happened, then what
// each node's own metrics say: every system records cort's metrics
// (docs/OBSERVABILITY.md) to a swift-prometheus registry of its own, handed
// over as `metricsFactory` (nothing is bootstrapped: the nodes share a process).
import Cort
import ExampleServices
import Foundation
import Logging
import Prometheus

// `swift run` builds for debug, unoptimized: its figures are not cort's speed.
#if DEBUG
print("build: debug, unoptimized (for representative figures: swift run -c release cort-demo)")
#else
print("build: release")
#endif

let nodeCount = 3
let replicasPerNode = 4
let callers = 32
let callsPerCaller = 500

func micros(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    return String(format: "%.0f µs", Double(seconds) * 1e6 + Double(attoseconds) / 1e12)
}

// The nodes' own log lines (each one says "hosting") are left out of the report.
var quiet = Logger(label: "cort")
quiet.logLevel = .warning

let discovery = LocalDiscovery()
var nodes: [CortSystem] = []
var registries: [PrometheusCollectorRegistry] = []
for index in 0..<nodeCount {
    let registry = PrometheusCollectorRegistry()
    let node = try CortSystem.start(.init(
        name: "node-\(index)", discovery: discovery, endpoint: "tcp://127.0.0.1:0", logger: quiet,
        metricsFactory: PrometheusMetricsFactory(registry: registry)))
    try await node.host(replicas: replicasPerNode) { Greeter(actorSystem: $0) }
    nodes.append(node)
    registries.append(registry)
}
let callerRegistry = PrometheusCollectorRegistry()
let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, logger: quiet,
                                        metricsFactory: PrometheusMetricsFactory(registry: callerRegistry)))

print("cort demo: \(nodeCount) nodes of the \"greeter\" service, \(replicasPerNode) replicas each")
for node in nodes { print("  node at \(node.endpoint ?? "?")") }

let greeter = try Greeter.service(in: caller)
let first = try await greeter.hello(name: "Ada")
print("\nfirst call: greeter.hello(name: \"Ada\") -> \"\(first.text)\" from \(first.servedBy)")

print("\n\(callers) tasks × \(callsPerCaller) calls, each awaiting a typed greeter.hello(name:)…")
struct TaskReport: Sendable {
    var latencies: [Duration] = []
    var servedBy: [String: Int] = [:]
    var errors: [String: Int] = [:]
}
let clock = ContinuousClock()
let started = clock.now
let reports = await withTaskGroup(of: TaskReport.self) { group in
    for task in 0..<callers {
        group.addTask {
            var report = TaskReport()
            report.latencies.reserveCapacity(callsPerCaller)
            for call in 0..<callsPerCaller {
                let callStarted = clock.now
                do {
                    let greeting = try await greeter.hello(name: "caller-\(task)-\(call)")
                    report.latencies.append(clock.now - callStarted)
                    report.servedBy[greeting.servedBy, default: 0] += 1
                } catch let error as RemoteCallError {
                    report.errors["\(error.code)", default: 0] += 1
                } catch {
                    report.errors["\(type(of: error))", default: 0] += 1
                }
            }
            return report
        }
    }
    var all: [TaskReport] = []
    for await report in group { all.append(report) }
    return all
}
let elapsed = clock.now - started

var latencies = reports.flatMap(\.latencies).sorted()
var servedBy: [String: Int] = [:]
var errors: [String: Int] = [:]
for report in reports {
    servedBy.merge(report.servedBy, uniquingKeysWith: +)
    errors.merge(report.errors, uniquingKeysWith: +)
}
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let made = callers * callsPerCaller
print("\n  calls made      \(made)")
print("  succeeded       \(latencies.count)")
print("  calls/second    \(Int(Double(latencies.count) / seconds))")
if !latencies.isEmpty {
    print("  latency         p50 \(micros(latencies[latencies.count / 2]))   p99 \(micros(latencies[latencies.count * 99 / 100]))   max \(micros(latencies[latencies.count - 1]))")
}
print("  spread over the nodes:")
for (node, count) in servedBy.sorted(by: { $0.key < $1.key }) {
    print("    \(node)  \(count) calls (\(count * 100 / max(latencies.count, 1))%)")
}
if errors.isEmpty {
    print("  errors          none")
} else {
    for (kind, count) in errors.sorted(by: { $0.key < $1.key }) { print("  errors          \(count) × \(kind)") }
}

/// One sample of a registry's text (Prometheus' exposition format):
/// `name{label="value",…} value`.
struct Sample {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// The samples of `registry` named `name` (a histogram's `_sum` and `_count` are names of their own).
func samples(_ name: String, in registry: PrometheusCollectorRegistry) -> [Sample] {
    registry.emitToString().split(separator: "\n").compactMap { line in
        guard line.hasPrefix(name + "{") || line.hasPrefix(name + " "),
              let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
        var labels: [String: String] = [:]
        for match in line[..<space].matches(of: #/(\w+)="((?:[^"\\]|\\.)*)"/#) {
            labels[String(match.1)] = String(match.2)
        }
        return Sample(name: name, labels: labels, value: value)
    }
}

/// The sum of the samples named `name` whose labels include `labels`.
func total(_ name: String, _ labels: [String: String] = [:], in registry: PrometheusCollectorRegistry) -> Double {
    samples(name, in: registry).filter { sample in labels.allSatisfy { sample.labels[$0.key] == $0.value } }
        .reduce(0) { $0 + $1.value }
}

/// The mean of a timer (a histogram in seconds), in µs: its `_sum` over its `_count`.
func meanMicros(_ name: String, _ labels: [String: String], in registry: PrometheusCollectorRegistry) -> String {
    let count = total(name + "_count", labels, in: registry)
    guard count > 0 else { return "-" }
    return String(format: "%.0f µs", total(name + "_sum", labels, in: registry) / count * 1e6)
}

/// The calls counted under `name` by their `code`, the zeros left out: "16001 ok, 2 overloaded".
func byCode(_ name: String, in registry: PrometheusCollectorRegistry) -> String {
    var counts: [String: Double] = [:]
    for sample in samples(name, in: registry) where sample.labels["service"] == Greeter.serviceName {
        counts[sample.labels["code"] ?? "?", default: 0] += sample.value
    }
    let codes = counts.filter { $0.value > 0 }.sorted { $0.value > $1.value }
    return codes.isEmpty ? "0" : codes.map { "\(Int($0.value)) \($0.key)" }.joined(separator: ", ")
}

print("\n  what each system's metrics say (its own swift-prometheus registry):")
let greeterService = ["service": Greeter.serviceName]
for (index, (node, registry)) in zip(nodes, registries).enumerated() {
    var line = "    node-\(index) \(node.endpoint ?? "?")  calls \(byCode("cort_server_calls_total", in: registry))"
    line += "   method mean \(meanMicros("cort_server_call_duration_seconds", greeterService, in: registry))"
    line += "   queue mean \(meanMicros("cort_server_queue_seconds", greeterService, in: registry))"
    let refused = total("cort_server_refused_total", in: registry)
    if refused > 0 { line += "   refused \(Int(refused))" }
    print(line)
}
var callerLine = "    caller  calls \(byCode("cort_client_calls_total", in: callerRegistry))"
callerLine += "   mean \(meanMicros("cort_client_call_duration_seconds", greeterService, in: callerRegistry))"
callerLine += "   failovers \(Int(total("cort_client_failovers_total", greeterService, in: callerRegistry)))"
print(callerLine)

await caller.shutdown()
for node in nodes { await node.shutdown() }
latencies.removeAll()
