import CortConsul
import CortTesting
import Foundation
import Logging
import Testing
@testable import Cort

/// ConsulDiscovery against the Consul agent double: registration and its TTL
/// passes, an agent that forgets, deregistration, and callers that find nodes
/// through it, through a Consul outage too.
@Suite struct ConsulDiscoveryTests {
    static func consul(_ agent: ConsulAgentDouble) -> ConsulConfiguration {
        var configuration = ConsulConfiguration()
        configuration.endpoint = .http(host: "127.0.0.1", port: Int(agent.port))
        return configuration
    }

    static func discovery(_ agent: ConsulAgentDouble, clock: any Clock<Duration> = ContinuousClock(),
                          ttl: Duration = .seconds(30)) throws -> ConsulDiscovery {
        var watch = HealthWatch.Configuration()
        // Short waits and backoff: an outage in a test lasts a moment.
        watch.wait = .seconds(2)
        watch.backoffBase = .milliseconds(20)
        watch.backoffCap = .milliseconds(200)
        watch.refillInterval = .milliseconds(10)
        return try ConsulDiscovery(configuration: .init(consul: consul(agent), ttl: ttl, watch: watch, clock: clock))
    }

    static let instance = ServiceInstance(service: "greeter", id: "greeter@node-a", endpoint: "tcp://127.0.0.1:5555",
                                          tags: ["blue"], metadata: ["zone": "a"])

    @Test func aRegistrationCarriesTheEndpointAndItsCheckIsPassedWithinTheTTL() async throws {
        let agent = try await ConsulAgentDouble.start()
        let clock = TestClock()
        let discovery = try Self.discovery(agent, clock: clock, ttl: .seconds(30))
        try await discovery.register(Self.instance)
        #expect(agent.services == [ConsulAgentDouble.RegisteredService(
            id: "greeter@node-a", name: "greeter", tags: ["blue"], address: "127.0.0.1", port: 5555,
            meta: ["zone": "a", "cort_protocol": "1"])])
        let check = try #require(agent.check("service:greeter@node-a"))
        #expect(check.status == "passing")
        #expect(check.ttl == .seconds(30))
        #expect(check.deregisterCriticalServiceAfter == .seconds(60))

        await clock.waitForSleeps(1)
        clock.advance(by: .seconds(10))
        await clock.waitForSleeps(2)  // the keeper passed, and sleeps again
        let passes = agent.requests.filter { $0.method == "PUT" && $0.path == "/v1/agent/check/pass/service:greeter@node-a" }
        #expect(passes.count == 1)
        #expect(passes.first?.status == 200)
        discovery.shutdown()
        await agent.stop()
    }

    @Test func anAgentThatForgotTheInstanceGetsItRegisteredAgain() async throws {
        let agent = try await ConsulAgentDouble.start()
        let clock = TestClock()
        let discovery = try Self.discovery(agent, clock: clock)
        try await discovery.register(Self.instance)
        await clock.waitForSleeps(1)
        try await agent.restart()
        #expect(agent.services.isEmpty)
        clock.advance(by: .seconds(10))
        await clock.waitForSleeps(2)
        #expect(agent.services.map(\.id) == ["greeter@node-a"])
        #expect(agent.check("service:greeter@node-a")?.status == "passing")
        discovery.shutdown()
        await agent.stop()
    }

    @Test func deregisteringRemovesTheInstanceAndStopsItsPasses() async throws {
        let agent = try await ConsulAgentDouble.start()
        let clock = TestClock()
        let discovery = try Self.discovery(agent, clock: clock)
        try await discovery.register(Self.instance)
        await clock.waitForSleeps(1)
        try await discovery.deregister(Self.instance)
        #expect(agent.services.isEmpty)
        // Deregistering what is already gone is not an error.
        try await discovery.deregister(Self.instance)
        clock.advance(by: .seconds(60))
        #expect(!agent.requests.contains { $0.path.hasPrefix("/v1/agent/check/pass/") })
        discovery.shutdown()
        await agent.stop()
    }

    @Test func endpointsConsulCannotListAreRefusedAndWildcardsAdvertiseAnAddress() async throws {
        let agent = try await ConsulAgentDouble.start()
        let discovery = try Self.discovery(agent)
        for endpoint in ["ipc:///tmp/greeter", "inproc://greeter"] {
            await #expect(throws: DiscoveryError.self) {
                try await discovery.register(ServiceInstance(service: "greeter", id: "g@x", endpoint: endpoint))
            }
        }
        #expect(agent.services.isEmpty)
        let wildcard = try discovery.registration(for: ServiceInstance(service: "g", id: "g@1", endpoint: "tcp://0.0.0.0:7000"))
        #expect(wildcard.address == nil, "Consul then gives callers the node's address")
        #expect(wildcard.port == 7000)
        let advertised = try ConsulDiscovery(configuration: .init(consul: Self.consul(agent), advertisedAddress: "10.0.0.5"))
        #expect(try advertised.registration(for: ServiceInstance(service: "g", id: "g@1", endpoint: "tcp://*:7000")).address == "10.0.0.5")
        #expect(ConsulDiscovery.hostAndPort("tcp://[::1]:80")! == ("::1", 80))
        #expect(ConsulDiscovery.hostAndPort("tcp://host:0") == nil)
        #expect(ConsulDiscovery.hostAndPort("tcp://:80") == nil)
        discovery.shutdown()
        advertised.shutdown()
        await agent.stop()
    }

    @Test func anUnreachableAgentIsAClearError() async throws {
        let agent = try await ConsulAgentDouble.start()
        let discovery = try Self.discovery(agent)
        await agent.goUnreachable()
        do {
            try await discovery.register(Self.instance)
            Issue.record("the agent is unreachable")
        } catch let error as DiscoveryError {
            #expect(error.code == .unavailable)
            #expect(error.cause is ConsulError)
        }
        discovery.shutdown()
        await agent.stop()
    }

    @Test func instancesCortCannotCallAreLeftOut() {
        let listed = [
            ConsulServiceInstance(id: "b", service: "greeter", address: "10.0.0.2", port: 5555, meta: ["cort_protocol": "1"]),
            ConsulServiceInstance(id: "a", service: "greeter", address: "::1", port: 5556),
            ConsulServiceInstance(id: "c", service: "greeter", address: "10.0.0.3", port: 5555, meta: ["cort_protocol": "2"]),
            ConsulServiceInstance(id: "", service: "greeter", address: "10.0.0.4", port: 5555),
        ]
        let instances = ConsulDiscovery.instances(from: listed, logger: Logger(label: "test"))
        #expect(instances.map(\.id) == ["a", "b"])
        #expect(instances.map(\.endpoint) == ["tcp://[::1]:5556", "tcp://10.0.0.2:5555"])
    }

    @Test func callersFindNodesThroughConsulAndKeepCallingThroughAnOutage() async throws {
        let agent = try await ConsulAgentDouble.start()
        let discovery = try Self.discovery(agent)
        // Failure detection is not under test here: a loaded machine must not look like a dead node.
        let heartbeat = HeartbeatConfiguration(interval: .milliseconds(250), liveness: 8)
        func node(_ name: String) async throws -> CortSystem {
            let node = try CortSystem.start(.init(name: name, discovery: discovery, endpoint: "tcp://127.0.0.1:0",
                                                  heartbeat: heartbeat))
            try await node.host("ledger") { Ledger(actorSystem: $0) }
            return node
        }
        let first = try await node("first")
        let second = try await node("second")
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(5),
                                                heartbeat: heartbeat))
        let ledger = try Ledger.resolve(id: .service("ledger"), using: caller)
        func callUntil(_ endpoint: String?, limit: Int = 500) async throws -> Set<String> {
            var seen: Set<String> = []
            for _ in 0..<limit {
                seen.insert(try await ledger.read(ReliabilityTests.key("consul")))
                if let endpoint, seen.contains(endpoint) { break }
            }
            return seen
        }
        let both = try await callUntil(nil, limit: 20)
        #expect(both == [try #require(first.endpoint), try #require(second.endpoint)])

        // Consul goes away: the last list stays in use.
        await agent.goUnreachable()
        for _ in 0..<20 {
            _ = try await ledger.append(ReliabilityTests.key("outage"))
        }
        try await agent.comeBack()
        // The watch comes back by itself: a node registered now gets calls.
        let third = try await node("third")
        let thirdEndpoint = try #require(third.endpoint)
        #expect(try await callUntil(thirdEndpoint).contains(thirdEndpoint))

        // A node that drains deregisters, and the callers keep going.
        await first.shutdown()
        #expect(!agent.services.contains { $0.port == Int(first.endpoint?.split(separator: ":").last ?? "") })
        #expect(agent.services.count == 2)
        for _ in 0..<20 {
            #expect(try await ledger.append(ReliabilityTests.key("after")) != first.endpoint)
        }
        await caller.shutdown()
        await second.shutdown()
        await third.shutdown()
        discovery.shutdown()
        await agent.stop()
    }
}

