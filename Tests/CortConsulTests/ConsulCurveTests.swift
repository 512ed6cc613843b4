import CortTesting
import Foundation
import Testing
@testable import Cort
@testable import CortConsul

/// CURVE through Consul (the agent double): a node publishes its public key
/// in its registration's metadata, a CURVE caller connects only to instances
/// that publish one (expecting that key), and a plaintext caller is told
/// that the node requires CURVE.
@Suite(.timeLimit(.minutes(2))) struct ConsulCurveTests {
    static let service = "curve-ledger"
    /// Failure detection is not under test: a loaded machine must not look like a dead node.
    static let heartbeat = HeartbeatConfiguration(interval: .milliseconds(250), liveness: 8)

    static func port(of endpoint: String) -> Int? {
        endpoint.split(separator: ":").last.flatMap { Int($0) }
    }

    /// What a test started, to stop whatever happens.
    final class Started {
        var systems: [CortSystem] = []
        var discoveries: [ConsulDiscovery] = []

        func stop() async {
            for system in systems.reversed() { await system.shutdown() }
            for discovery in discoveries { discovery.shutdown() }
        }
    }

    @Test func aCurveNodePublishesItsKeyAndCallersUseOnlyInstancesThatPublishOne() async throws {
        let agent = try await ConsulAgentDouble.start()
        let started = Started()
        do {
            try await Self.scenario(agent, started)
        } catch {
            await started.stop()
            await agent.stop()
            throw error
        }
        await started.stop()
        await agent.stop()
    }

    static func scenario(_ agent: ConsulAgentDouble, _ started: Started) async throws {
        let nodeKeys = try CurveKeyPair.generate()
        let callerKeys = try CurveKeyPair.generate()
        func discovery() throws -> ConsulDiscovery {
            let discovery = try ConsulDiscoveryTests.discovery(agent)
            started.discoveries.append(discovery)
            return discovery
        }

        // A CURVE node registers.
        let node = try CortSystem.start(.init(
            name: "keyed", discovery: try discovery(), endpoint: "tcp://127.0.0.1:0", heartbeat: heartbeat,
            security: .curve(keyPair: nodeKeys, allowedCallers: CallerAllowList([callerKeys.publicKey]))))
        started.systems.append(node)
        try await node.host(service) { Ledger(actorSystem: $0) }
        let keyedEndpoint = try #require(node.endpoint)
        let registered = try #require(agent.services.first { $0.name == service }, "\(agent.services)")
        #expect(registered.meta[ServiceInstance.curveKeyMetadataKey] == nodeKeys.publicKey.z85, "\(registered.meta)")
        #expect(registered.meta["cort_protocol"] == "1")
        #expect(registered.port == port(of: keyedEndpoint))
        #expect(!registered.meta.values.contains(nodeKeys.secretKey.z85))

        // A plaintext caller cannot use it, and is told why without waiting for its deadline.
        let plaintextCaller = try CortSystem.start(.init(
            name: "plaintext-caller", discovery: try discovery(), defaultTimeout: .seconds(30), heartbeat: heartbeat))
        started.systems.append(plaintextCaller)
        let clock = ContinuousClock()
        let before = clock.now
        do {
            let answer = try await Ledger.resolve(id: .service(service), using: plaintextCaller).append("plaintext")
            Issue.record("a plaintext caller reached a CURVE node: \(answer)")
        } catch let error as RemoteCallError {
            #expect(error.code == .transport, "\(error)")
            #expect(error.message.contains("requires CURVE"), "\(error.message)")
        }
        #expect(clock.now - before < .seconds(10), "it failed at once, not at the call's deadline")

        // A second instance of the service, registered without a key, where
        // a plaintext node answers: a CURVE caller must never use it.
        let plaintextNode = try CortSystem.start(.init(
            name: "keyless", discovery: try StaticDiscovery([:]), endpoint: "tcp://127.0.0.1:0", heartbeat: heartbeat))
        started.systems.append(plaintextNode)
        try await plaintextNode.host(service) { Ledger(actorSystem: $0) }
        let plaintextEndpoint = try #require(plaintextNode.endpoint)
        let plaintextPort = try #require(port(of: plaintextEndpoint))
        let client = try ConsulClient(configuration: ConsulDiscoveryTests.consul(agent))
        defer { client.shutdown() }
        try await client.register(ConsulServiceRegistration(
            id: "\(service)@keyless", name: service, address: "127.0.0.1",
            port: plaintextPort, meta: ["cort_protocol": "1"],
            check: .init(ttl: .seconds(60), initialStatus: .passing)))
        let passing = try await client.healthService(service).value
        #expect(Set(passing.map(\.port)) == [port(of: keyedEndpoint), plaintextPort],
                "Consul lists both instances as passing")

        let caller = try CortSystem.start(.init(
            name: "curve-caller", discovery: try discovery(), defaultTimeout: .seconds(30), heartbeat: heartbeat,
            security: .curve(keyPair: callerKeys)))
        started.systems.append(caller)
        let ledger = try Ledger.resolve(id: .service(service), using: caller)
        var ranOn: [String] = []
        for index in 0..<20 {
            ranOn.append(try await ledger.append(ConsulDiscoveryTests.key("curve-\(index)")))
        }
        #expect(ranOn.count == 20)
        #expect(ranOn.allSatisfy { $0 == keyedEndpoint }, "\(Set(ranOn))")
        #expect(try await plaintextNode.nodeCounters().requests == 0, "the keyless instance got calls")
        #expect(try await node.nodeCounters().requests >= 20)
    }
}
