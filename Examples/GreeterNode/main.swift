// A node of the "greeter" service in a process of its own:
//   swift run cort-greeter-node tcp://127.0.0.1:5555
// With CONSUL_HTTP_ADDR set (or CORT_DISCOVERY=consul) it registers in that
// Consul agent, and deregisters when it drains. With CORT_CURVE_SECRET_KEY_FILE
// and CORT_CURVE_ALLOWED_CALLERS_FILE set it serves with CURVE security, to
// the callers whose keys that file lists (docs/SECURITY.md).
// It serves until it gets SIGINT or SIGTERM, then drains: its callers are
// told to send nothing new, the calls it accepted finish, and it exits.
import Cort
import CortConsul
import ExampleServices
import Foundation
import Logging
import ServiceLifecycle

let endpoint = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "tcp://127.0.0.1:5555"
// cort logs nothing unless given a logger: this one shows its info lines.
let logger = Logger(label: "cort-greeter-node")
// Consul when the environment names an agent; otherwise the callers are told
// the endpoint (CORT_STATIC_SERVICES) and nothing needs registering.
let discovery: any Discovery
let security: Security
do {
    security = try .fromEnvironment()
    discovery = try DiscoveryEnvironment.discovery(backends: [.consul])
} catch {
    print("cort-greeter-node: \(error)")
    exit(2)
}
let node = try CortSystem.start(.init(name: "greeter-node", discovery: discovery, endpoint: endpoint, logger: logger,
                                      security: security))
try await node.host(replicas: 4) { Greeter(actorSystem: $0) }
print("greeter node serving at \(node.endpoint ?? endpoint) (\(security)); stop it with Ctrl-C")

// The system is a lifecycle Service: a signal starts its graceful shutdown (a drain).
let group = ServiceGroup(services: [node], gracefulShutdownSignals: [.sigint, .sigterm], logger: logger)
try await group.run()
print("drained and stopped")
