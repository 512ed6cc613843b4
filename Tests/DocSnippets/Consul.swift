// The Consul snippets of README.md, compiled (see README.swift); not run:
// the first needs a Consul agent.
import Cort
import CortConsul
import CortTesting

func consulNode() throws -> CortSystem {
    // snippet: README-consul
    let discovery = try ConsulDiscovery(configuration: .init(
        consul: try .fromEnvironment(),        // CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_CACERT, ...
        ttl: .seconds(10),
        advertisedAddress: "10.0.0.5"))        // for a node bound to tcp://0.0.0.0:port
    let node = try CortSystem.start(.init(name: "node-a", discovery: discovery, endpoint: "tcp://0.0.0.0:5555"))
    // end snippet
    return node
}

func consulDouble() async throws {
    // snippet: README-consul-double
    let consul = try await ConsulAgentDouble.start()   // 127.0.0.1, a free port
    // CONSUL_HTTP_ADDR = consul.address
    // end snippet
    await consul.stop()
}
