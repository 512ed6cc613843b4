// cort's demo: three nodes of a "greeter" service and a caller, all in this
// process but talking over real TCP ports on loopback, found through
// LocalDiscovery (the embedded default: no Consul needed). The caller makes
// typed calls from many tasks at once and reports what happened.
import Cort
import ExampleServices
import Foundation
import Logging

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
for index in 0..<nodeCount {
    let node = try CortSystem.start(.init(
        name: "node-\(index)", discovery: discovery, endpoint: "tcp://127.0.0.1:0", logger: quiet))
    try await node.host(replicas: replicasPerNode) { Greeter(actorSystem: $0) }
    nodes.append(node)
}
let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, logger: quiet))

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

await caller.shutdown()
for node in nodes { await node.shutdown() }
latencies.removeAll()
