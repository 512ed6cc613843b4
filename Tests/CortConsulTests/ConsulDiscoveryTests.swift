import CortTesting
import Foundation
import Logging
import Synchronization
import Testing
@testable import Cort
@testable import CortConsul

/// ConsulDiscovery against the Consul agent double: registration and its TTL
/// passes, an agent that forgets, deregistration, and callers that find nodes
/// through it, through a Consul outage too.
@Suite(.timeLimit(.minutes(2))) struct ConsulDiscoveryTests {
    static func consul(_ agent: ConsulAgentDouble) -> ConsulConfiguration {
        var configuration = ConsulConfiguration()
        configuration.endpoint = .http(host: "127.0.0.1", port: Int(agent.port))
        // The double answers from the cooperative pool, which the suite's
        // busiest seconds can hold for over 10 s (seen on 2 cores): a
        // request that outlasts that is not what these tests look at.
        configuration.requestTimeout = .seconds(30)
        return configuration
    }

    static func discovery(_ agent: ConsulAgentDouble, consul: ConsulConfiguration? = nil,
                          clock: any Clock<Duration> = ContinuousClock(), ttl: Duration = .seconds(30),
                          logger: Logger = Logger(label: "cort.consul")) throws -> ConsulDiscovery {
        var watch = HealthWatch.Configuration()
        // Short waits and backoff: an outage in a test lasts a moment.
        watch.wait = .seconds(2)
        watch.backoffBase = .milliseconds(20)
        watch.backoffCap = .milliseconds(200)
        watch.refillInterval = .milliseconds(10)
        // register() waits this long (real time) for the first attempt's
        // answer: long, so a loaded machine's slow double still answers it
        // (the test that wants it short sets its own).
        return try ConsulDiscovery(configuration: .init(consul: consul ?? Self.consul(agent), ttl: ttl, watch: watch,
                                                        registrationWait: .seconds(30), clock: clock, logger: logger))
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

    // MARK: Registering without Consul

    @Test func registerReturnsAgainstAnUnreachableAgentAndRegistersInTheBackgroundOnceItIsBack() async throws {
        let agent = try await ConsulAgentDouble.start()
        let clock = TestClock()
        let log = LogRecorder()
        let discovery = try Self.discovery(agent, clock: clock, logger: log.logger)
        await agent.goUnreachable()
        try await discovery.register(Self.instance)

        var sleeps = clock.sleeps.makeAsyncIterator()
        #expect(await sleeps.next() == .seconds(1))
        let warning = try #require(log.entries.first { $0.level == .warning })
        #expect(warning.message.hasPrefix(
            "cannot register greeter@node-a with Consul: Consul at http://127.0.0.1:\(agent.port) is unreachable: "),
            "\(warning.message)")
        #expect(warning.message.hasSuffix("retrying in the background every 1s, backing off to 30s"))
        // Still down: retried after 1 s, then 2 s, without a second warning.
        clock.advance(by: .seconds(1))
        #expect(await sleeps.next() == .seconds(2))

        try await agent.comeBack()
        #expect(agent.services.isEmpty)
        clock.advance(by: .seconds(2))
        // The keeper registered, and now waits to pass the check (a third of the 30 s TTL).
        #expect(await sleeps.next() == .seconds(10))
        #expect(agent.services.map(\.id) == ["greeter@node-a"])
        #expect(agent.check("service:greeter@node-a")?.status == "passing")
        #expect(log.count(.warning) == 1)
        #expect(log.count(.error) == 0)
        #expect(log.entries.contains { $0.level == .notice && $0.message == "registered with Consul after 2 failed attempts" })

        clock.advance(by: .seconds(10))
        #expect(await sleeps.next() == .seconds(10))
        let passes = agent.requests.filter { $0.path == "/v1/agent/check/pass/service:greeter@node-a" }
        #expect(passes.map(\.status) == [200])
        discovery.shutdown()
        await agent.stop()
    }

    @Test func aRefusedTokenIsAnErrorLoggedOnceAndTheRegistrationWaitsForTheTokenToBeAccepted() async throws {
        var configuration = ConsulAgentDouble.Configuration()
        configuration.aclToken = "the-right-one"
        let agent = try await ConsulAgentDouble.start(configuration: configuration)
        let clock = TestClock()
        let log = LogRecorder()
        var consul = Self.consul(agent)
        consul.token = "an-old-one"
        let discovery = try Self.discovery(agent, consul: consul, clock: clock, logger: log.logger)
        try await discovery.register(Self.instance)

        var sleeps = clock.sleeps.makeAsyncIterator()
        // Not hammered like an outage: the longest delay at once.
        #expect(await sleeps.next() == .seconds(30))
        let errors = log.entries.filter { $0.level == .error }
        #expect(errors.count == 1)
        #expect(errors.first?.message.hasPrefix("cannot register greeter@node-a with Consul: Consul answered 403: ACL not found;") == true,
                "\(errors)")
        clock.advance(by: .seconds(30))
        #expect(await sleeps.next() == .seconds(30))
        #expect(agent.requests.filter { $0.path == "/v1/agent/service/register" }.map(\.status) == [403, 403])

        // An operator gives the token its policy.
        agent.setACLToken("an-old-one")
        clock.advance(by: .seconds(30))
        #expect(await sleeps.next() == .seconds(10))
        #expect(agent.services.map(\.id) == ["greeter@node-a"])
        #expect(agent.check("service:greeter@node-a")?.status == "passing")
        #expect(log.count(.error) == 1)
        #expect(log.count(.warning) == 0)
        #expect(log.entries.contains { $0.level == .notice && $0.message.hasPrefix("registered with Consul after 2 failed") })
        discovery.shutdown()
        await agent.stop()
    }

    @Test func deregisteringStopsTheBackgroundAttempts() async throws {
        let agent = try await ConsulAgentDouble.start()
        let clock = TestClock()
        let discovery = try Self.discovery(agent, clock: clock)
        await agent.goUnreachable()
        try await discovery.register(Self.instance)
        await clock.waitForSleeps(1)
        let refused = await #expect(throws: DiscoveryError.self) { try await discovery.deregister(Self.instance) }
        #expect(refused?.code == .unavailable)
        try await agent.comeBack()
        clock.advance(by: .seconds(60))
        // A request of the keeper would have been made by now; the deregistration's is the only one.
        try await discovery.deregister(Self.instance)
        #expect(agent.requests.map(\.path) == ["/v1/agent/service/deregister/greeter@node-a"])
        #expect(agent.services.isEmpty)
        discovery.shutdown()
        await agent.stop()
    }

    @Test func aBlackholedAgentHoldsRegisterOnlyForTheWaitAndTheAttemptCarriesOn() async throws {
        let agentClock = TestClock()
        let agent = try await ConsulAgentDouble.start(clock: agentClock)
        agent.setResponseDelay(.seconds(3600))
        let log = LogRecorder()
        var configuration = try Self.discovery(agent).configuration
        configuration.registrationWait = .milliseconds(100)
        configuration.logger = log.logger
        let discovery = try ConsulDiscovery(configuration: configuration)
        // Returns although the agent holds the request.
        try await discovery.register(Self.instance)
        #expect(agent.services.isEmpty)
        // The attempt is still there: once the agent answers, the instance is registered.
        await agentClock.waitForSleeps(1)
        agent.setResponseDelay(.zero)
        agentClock.advance(by: .seconds(3600))
        await log.waitFor("registered with Consul")
        #expect(agent.services.map(\.id) == ["greeter@node-a"])
        #expect(log.count(.warning) == 0)
        discovery.shutdown()
        await agent.stop()
    }

    @Test func aRegistrationConsulRefusesIsTheNodesMistake() async throws {
        let agent = try await ConsulAgentDouble.start()
        let discovery = try Self.discovery(agent)
        let instance = ServiceInstance(service: "greeter", id: "greeter@node-a", endpoint: "tcp://127.0.0.1:5555",
                                       metadata: ["zone.name": "a"])
        let error = await #expect(throws: DiscoveryError.self) { try await discovery.register(instance) }
        #expect(error?.code == .invalidInstance)
        #expect(error?.message.hasPrefix("Consul refused the registration of greeter@node-a: Consul answered 400: Invalid Service Meta") == true,
                "\(String(describing: error))")
        #expect(agent.services.isEmpty)
        discovery.shutdown()
        await agent.stop()
    }

    @Test func registeringWithAShutDownBackendIsAnError() async throws {
        let agent = try await ConsulAgentDouble.start()
        let discovery = try Self.discovery(agent)
        discovery.shutdown()
        let error = await #expect(throws: DiscoveryError.self) { try await discovery.register(Self.instance) }
        #expect(error?.code == .unavailable)
        await agent.stop()
    }

    /// consul-api.md: the agent answers TTL passes without a leader, so a
    /// node that keeps passing stays passing however long the leader is gone.
    @Test func aNodesCheckStaysPassingThroughANoLeaderPeriod() async throws {
        let agentClock = TestClock()
        let agent = try await ConsulAgentDouble.start(clock: agentClock)
        let clock = TestClock()
        let discovery = try Self.discovery(agent, clock: clock, ttl: .seconds(30))
        try await discovery.register(Self.instance)
        await clock.waitForSleeps(1)
        agent.setNoLeader(true)
        for round in 1...9 {
            agentClock.advance(by: .seconds(10))
            clock.advance(by: .seconds(10))
            await clock.waitForSleeps(1 + round)
            #expect(agent.check("service:greeter@node-a")?.status == "passing", "after \(round * 10) s")
        }
        // The watch reads ?stale, so it lists the node all along.
        var nodes = discovery.watch(service: "greeter").makeAsyncIterator()
        #expect(try await nodes.next()?.map(\.id) == ["greeter@node-a"])
        // Without passes the check expires, leader or not.
        discovery.shutdown()
        agentClock.advance(by: .seconds(31))
        #expect(agent.check("service:greeter@node-a")?.status == "critical")
        await agent.stop()
    }

    // MARK: Watches that say why

    @Test func aWatchWithARefusedTokenThrowsUnauthorizedWithConsulsAnswer() async throws {
        var configuration = ConsulAgentDouble.Configuration()
        configuration.aclToken = "s3cr3t"
        let agent = try await ConsulAgentDouble.start(configuration: configuration)
        let discovery = try Self.discovery(agent)
        let error = await #expect(throws: DiscoveryError.self) {
            for try await _ in discovery.watch(service: "greeter") {}
        }
        #expect(error?.code == .unauthorized)
        #expect(error?.message == "Consul answered 403: Permission denied")
        #expect((error?.cause as? ConsulError)?.status == 403)
        discovery.shutdown()
        await agent.stop()
    }

    @Test func aCallerWhoseTokenIsRefusedIsToldWhyThereIsNoNode() async throws {
        var configuration = ConsulAgentDouble.Configuration()
        configuration.aclToken = "s3cr3t"
        let agent = try await ConsulAgentDouble.start(configuration: configuration)
        var consul = Self.consul(agent)
        consul.token = "wrong"
        let discovery = try Self.discovery(agent, consul: consul)
        // The call ends at its deadline: long enough for the refusal to
        // come back from the double first, however loaded the machine.
        let caller = try CortSystem.start(.init(name: "refused", discovery: discovery, defaultTimeout: .seconds(30)))
        let ledger = try Ledger.resolve(id: .service("ledger"), using: caller)
        do {
            _ = try await ledger.read("x")
            Issue.record("a call without nodes returned")
        } catch let error as RemoteCallError {
            #expect(error.code == .noNodes)
            #expect(error.message.contains("discovery failed: Consul answered 403"), "\(error.message)")
            #expect((error.cause as? DiscoveryError)?.code == .unauthorized)
        }
        await caller.shutdown()
        discovery.shutdown()
        await agent.stop()
    }

    @Test func aWatchOfAnUnreachableAgentThrowsUnavailableNamingTheAgent() async throws {
        let agent = try await ConsulAgentDouble.start()
        let discovery = try Self.discovery(agent)
        await agent.goUnreachable()
        let error = await #expect(throws: DiscoveryError.self) {
            for try await _ in discovery.watch(service: "greeter") {}
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message.hasPrefix("Consul at http://127.0.0.1:\(agent.port) is unreachable: ") == true,
                "\(String(describing: error))")
        discovery.shutdown()
        await agent.stop()
    }

    @Test func aWatchGoesOnThroughAnIndexThatGoesBackWithoutThrowingOrRepeatingTheList() async throws {
        let agent = try await ConsulAgentDouble.start()
        let discovery = try Self.discovery(agent)
        try await discovery.register(Self.instance)
        var nodes = discovery.watch(service: "greeter").makeAsyncIterator()
        #expect(try await nodes.next()?.map(\.id) == ["greeter@node-a"])
        await agent.waitForBlockedQueries(1)
        // A snapshot restore: the parked query answers with a lower index and the same list.
        agent.rewindIndex(to: 1)
        await agent.waitForBlockedQueries(1)
        try await discovery.register(ServiceInstance(service: "greeter", id: "greeter@node-b", endpoint: "tcp://127.0.0.1:5556"))
        // The next element is the change, not the same list again.
        #expect(try await nodes.next()?.map(\.id) == ["greeter@node-a", "greeter@node-b"])
        let sent = agent.requests.filter { $0.path == "/v1/health/service/greeter" }.map { $0.queryValue("index") }
        #expect(sent.count >= 4)
        #expect(sent[2] == nil, "after the index went back the watch asked without one: \(sent)")
        discovery.shutdown()
        await agent.stop()
    }

    @Test func aWatchThatFailsLaterThrowsAfterTheListsItGave() async throws {
        let agent = try await ConsulAgentDouble.start()
        let discovery = try Self.discovery(agent)
        try await discovery.register(Self.instance)
        var configuration = discovery.configuration
        configuration.watch.stale = false
        let consistent = try ConsulDiscovery(configuration: configuration)
        var nodes = consistent.watch(service: "greeter").makeAsyncIterator()
        #expect(try await nodes.next()?.map(\.id) == ["greeter@node-a"])
        await agent.waitForBlockedQueries(1)
        agent.setNoLeader(true)
        // A change wakes the blocked query; its next one meets no leader.
        try await discovery.deregister(Self.instance)
        var error: DiscoveryError?
        do {
            while try await nodes.next() != nil {}
        } catch let thrown as DiscoveryError {
            error = thrown
        }
        #expect(error?.code == .unavailable)
        #expect(error?.message == "Consul answered 500: No cluster leader")
        consistent.shutdown()
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
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(30),
                                                heartbeat: heartbeat))
        let ledger = try Ledger.resolve(id: .service("ledger"), using: caller)
        // Calls until every one of `endpoints` answered one, or 20 s passed:
        // bounded by time, not by a count of calls, which a fast caller
        // used up before a node's handshake or the watch's next answer.
        func callUntil(_ endpoints: Set<String>) async throws -> Set<String> {
            var seen: Set<String> = []
            let deadline = ContinuousClock.now + .seconds(20)
            while !endpoints.isSubset(of: seen) && ContinuousClock.now < deadline {
                seen.insert(try await ledger.read(Self.key("consul")))
            }
            return seen
        }
        let both = try await callUntil([try #require(first.endpoint), try #require(second.endpoint)])
        #expect(both == [try #require(first.endpoint), try #require(second.endpoint)])

        // Consul goes away: the last list stays in use.
        await agent.goUnreachable()
        for _ in 0..<20 {
            _ = try await ledger.append(Self.key("outage"))
        }
        try await agent.comeBack()
        // The watch comes back by itself: a node registered now gets calls.
        let third = try await node("third")
        let thirdEndpoint = try #require(third.endpoint)
        #expect(try await callUntil([thirdEndpoint]).contains(thirdEndpoint))

        // A node that drains deregisters, and the callers keep going.
        await first.shutdown()
        #expect(!agent.services.contains { $0.port == Int(first.endpoint?.split(separator: ":").last ?? "") })
        #expect(agent.services.count == 2)
        for _ in 0..<20 {
            #expect(try await ledger.append(Self.key("after")) != first.endpoint)
        }
        await caller.shutdown()
        await second.shutdown()
        await third.shutdown()
        discovery.shutdown()
        await agent.stop()
    }
}
