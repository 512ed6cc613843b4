// A node of the "greeter" service that exports its metrics for Prometheus:
//   swift run cort-metrics-node [ENDPOINT] [METRICS_PORT]
// (defaults tcp://127.0.0.1:5555 and 9464; a metrics port of 0 picks a free
// one). Before its system starts it bootstraps swift-metrics with
// swift-prometheus (the program picks the backend, never cort), so cort's
// metrics (docs/OBSERVABILITY.md) record to that registry, and it serves them
// in Prometheus' text format at http://127.0.0.1:METRICS_PORT/metrics.
// Discovery as for cort-greeter-node: Consul when the environment names an
// agent (CONSUL_HTTP_ADDR, CORT_DISCOVERY=consul), else the callers are told
// the endpoint. It prints "ready <endpoint> <metrics url>" once both serve,
// and runs until SIGINT or SIGTERM, then drains and exits.
import CoreMetrics
import Cort
import CortConsul
import ExampleServices
import FlyingFox
import Foundation
import Logging
import Prometheus
import ServiceLifecycle

/// Prints `line` at once, also into a pipe (where `print` buffers): the ready
/// line must reach the program that waits for it.
func say(_ line: String, to output: FileHandle = .standardOutput) {
    output.write(Data((line + "\n").utf8))
}

let arguments = CommandLine.arguments
let endpoint = arguments.count > 1 ? arguments[1] : "tcp://127.0.0.1:5555"
let metricsPortText = arguments.count > 2 ? arguments[2] : "9464"
guard let metricsPort = UInt16(metricsPortText) else {
    say("cort-metrics-node: the metrics port \(metricsPortText) is not a port number (0 to 65535)", to: .standardError)
    exit(2)
}

// The backend, once, before any system starts: every metric cort makes from
// now on is a series in this registry.
let registry = PrometheusCollectorRegistry()
MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

let logger = Logger(label: "cort-metrics-node")
let discovery: any Discovery
do {
    discovery = try DiscoveryEnvironment.discovery(backends: [.consul])
} catch {
    say("cort-metrics-node: \(error)", to: .standardError)
    exit(2)
}

struct MetricsEndpointError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// `GET /metrics` on 127.0.0.1: the registry in Prometheus' text format, as
/// a lifecycle Service that stops listening on graceful shutdown.
struct MetricsEndpoint: Service {
    let server: HTTPServer

    init(port: UInt16, registry: PrometheusCollectorRegistry) async throws {
        let address = try sockaddr_in.inet(ip4: "127.0.0.1", port: port)
        server = HTTPServer(config: .init(address: address, timeout: 15, logger: .disabled))
        await server.appendRoute("GET /metrics") { _ in
            var text: [UInt8] = []
            registry.emit(into: &text)
            return HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                                body: Data(text))
        }
    }

    /// The port it listens on, once it does (`port` 0 asked for a free one).
    func listeningPort() async throws -> UInt16 {
        try await server.waitUntilListening(timeout: 10)
        guard case .ip4(_, let port)? = await server.listeningAddress else {
            throw MetricsEndpointError(message: "the metrics endpoint has no IPv4 address")
        }
        return port
    }

    func run() async throws {
        try await withGracefulShutdownHandler {
            do {
                try await server.run()
            } catch where Task.isShuttingDownGracefully {
                // `stop` closed the listener, and `run` ends with that error.
            }
        } onGracefulShutdown: {
            Task { await server.stop(timeout: 1) }
        }
    }
}

let node = try CortSystem.start(.init(name: "metrics-node", discovery: discovery, endpoint: endpoint, logger: logger))
try await node.host(replicas: 4) { Greeter(actorSystem: $0) }
let metrics = try await MetricsEndpoint(port: metricsPort, registry: registry)

// On a signal the group shuts its services down in reverse order: the node
// drains first, the metrics endpoint still answering, then that stops.
let group = ServiceGroup(services: [metrics, node], gracefulShutdownSignals: [.sigint, .sigterm], logger: logger)
do {
    try await withThrowingTaskGroup(of: Bool.self) { tasks in
        tasks.addTask {
            try await group.run()
            return true
        }
        tasks.addTask {
            do {
                let url = "http://127.0.0.1:\(try await metrics.listeningPort())/metrics"
                say("greeter node serving at \(node.endpoint ?? endpoint); stop it with Ctrl-C")
                say("metrics at \(url)")
                // One line, for programs (and tests) that start this one.
                say("ready \(node.endpoint ?? endpoint) \(url)")
            } catch where Task.isCancelled {
                // The group ended (a signal) before the endpoint listened.
            }
            return false
        }
        // The group's end stops the wait for the port; its error (the port
        // taken) ends everything.
        while let groupEnded = try await tasks.next() {
            if groupEnded { tasks.cancelAll() }
        }
    }
} catch {
    say("cort-metrics-node: \(error)", to: .standardError)
    exit(1)
}
say("drained and stopped")
