// A node of the "greeter" service in a process of its own:
//   swift run cort-greeter-node tcp://127.0.0.1:5555
// With CONSUL_HTTP_ADDR set (or CORT_DISCOVERY=consul) it registers in that
// Consul agent, and deregisters when it drains.
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
do {
    discovery = try DiscoveryEnvironment.discovery(backends: [.consul])
} catch {
    print("cort-greeter-node: \(error)")
    exit(2)
}
let node = try CortSystem.start(.init(name: "greeter-node", discovery: discovery, endpoint: endpoint, logger: logger))
try await node.host(replicas: 4) { Greeter(actorSystem: $0) }
print("greeter node serving at \(node.endpoint ?? endpoint); stop it with Ctrl-C")

// The system is a lifecycle Service: a signal starts its graceful shutdown (a drain).
let group = ServiceGroup(services: [node], gracefulShutdownSignals: [.sigint, .sigterm], logger: logger)
try await group.run()
print("drained and stopped")
