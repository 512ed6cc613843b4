import CortTesting
import Foundation
import Logging
import Synchronization
import Testing
@testable import CortConsul

/// The client against CortTesting's Consul agent double (a real HTTP server faithful to
/// consul-api.md). Every wait is for an event; the time limit bounds a bug that loses one.
@Suite(.timeLimit(.minutes(1))) struct ConsulClientDoubleTests {
    static func client(_ double: ConsulAgentDouble, token: String? = nil) throws -> ConsulClient {
        var configuration = try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_ADDR": double.address])
        configuration.token = token
        // The double answers from the cooperative pool, which the suite's
        // busiest seconds can hold for over 10 s (seen on 2 cores).
        configuration.requestTimeout = .seconds(30)
        return try ConsulClient(configuration: configuration)
    }

    static func registration(_ id: String, port: Int = 5555, status: ConsulCheckStatus? = .passing) -> ConsulServiceRegistration {
        ConsulServiceRegistration(
            id: id, name: "greeter", address: "10.0.0.5", port: port, tags: ["v1"], meta: ["cort_protocol": "1"],
            check: .init(ttl: .seconds(30), deregisterCriticalServiceAfter: .seconds(60), initialStatus: status))
    }

    static var fastWatch: HealthWatch.Configuration {
        var configuration = HealthWatch.Configuration()
        // A round returns at a change; long, so a slow change still comes within one.
        configuration.wait = .seconds(30)
        configuration.refillInterval = .milliseconds(5)
        configuration.backoffBase = .milliseconds(5)
        configuration.backoffCap = .milliseconds(20)
        return configuration
    }

    static func withDouble<R>(
        clock: some Clock<Duration> = ContinuousClock(),
        configuration: ConsulAgentDouble.Configuration = .init(),
        _ body: (ConsulAgentDouble) async throws -> R
    ) async throws -> R {
        let double = try await ConsulAgentDouble.start(clock: clock, configuration: configuration)
        do {
            let result = try await body(double)
            await double.stop()
            return result
        } catch {
            await double.stop()
            throw error
        }
    }

    @Test func registerPassDeregister() async throws {
        try await Self.withDouble { double in
            let client = try Self.client(double)
            let registration = Self.registration("greeter-1", status: nil)
            try await client.register(registration)
            #expect(double.services.map(\.id) == ["greeter-1"])
            #expect(double.services.first?.meta == ["cort_protocol": "1"])
            let checkID = try #require(registration.checkID)
            #expect(double.check(checkID)?.status == "critical")
            #expect(double.check(checkID)?.ttl == .seconds(30))
            #expect(double.check(checkID)?.deregisterCriticalServiceAfter == .seconds(60))

            try await client.passTTL(checkID: checkID, note: "serving")
            #expect(double.check(checkID)?.status == "passing")
            #expect(double.check(checkID)?.output == "serving")
            let passing = try await client.healthService("greeter")
            #expect(passing.value.map(\.id) == ["greeter-1"])
            #expect(passing.value.first?.address == "10.0.0.5")

            try await client.warnTTL(checkID: checkID, note: "slow")
            #expect(try await client.healthService("greeter").value.isEmpty)
            let all = try await client.healthService("greeter", passingOnly: false)
            #expect(all.value.first?.aggregatedStatus == .warning)

            try await client.deregister(serviceID: "greeter-1")
            #expect(double.services.isEmpty)
            let again = await #expect(throws: ConsulError.self) { try await client.deregister(serviceID: "greeter-1") }
            #expect(again?.status == 404)
            let pass = await #expect(throws: ConsulError.self) { try await client.passTTL(checkID: checkID) }
            #expect(pass?.requiresRegistration == true)
        }
    }

    @Test func theAgentsValidationComesBackAsConsulsMessage() async throws {
        try await Self.withDouble { double in
            let client = try Self.client(double)
            var registration = Self.registration("greeter-1")
            registration.meta = ["bad.key": "v"]
            let error = await #expect(throws: ConsulError.self) { try await client.register(registration) }
            #expect(error?.status == 400)
            #expect(error?.consulMessage?.contains("Invalid Service Meta") == true)
            #expect(double.services.isEmpty)
        }
    }

    @Test func theTokenIsSentInItsHeader() async throws {
        var configuration = ConsulAgentDouble.Configuration()
        configuration.aclToken = "s3cret"
        try await Self.withDouble(configuration: configuration) { double in
            let denied = await #expect(throws: ConsulError.self) {
                try await Self.client(double).register(Self.registration("greeter-1"))
            }
            #expect(denied?.status == 403)
            try await Self.client(double, token: "s3cret").register(Self.registration("greeter-1"))
            #expect(double.services.map(\.id) == ["greeter-1"])
            let last = try #require(double.requests.last)
            #expect(last.header("X-Consul-Token") == "s3cret")
            #expect(last.queryValue("token") == nil)
        }
    }

    @Test func catalogAndLeader() async throws {
        try await Self.withDouble { double in
            let client = try Self.client(double)
            try await client.register(Self.registration("greeter-1"))
            let services = try await client.catalogServices()
            #expect(services.value["greeter"] == ["v1"])
            #expect(services.index >= 1)
            let leader = try await client.leader()
            #expect(leader != nil)
            double.setNoLeader(true)
            let none = try await client.leader()
            #expect(none == nil)
        }
    }

    @Test func aWatchSeesANewInstanceWithinOneBlockingRound() async throws {
        try await Self.withDouble { double in
            let client = try Self.client(double)
            try await client.register(Self.registration("greeter-1"))
            var updates = client.healthWatch(service: "greeter", configuration: Self.fastWatch).makeAsyncIterator()
            #expect(await updates.next()?.instances.map(\.id) == ["greeter-1"])
            let next = Task { [updates] in
                var updates = updates
                return await updates.next()
            }
            await double.waitForBlockedQueries(1)
            try await client.register(Self.registration("greeter-2", port: 5556))
            let update = await next.value
            #expect(update?.instances.map(\.id) == ["greeter-1", "greeter-2"])
            let healthQueries = double.requests.filter { $0.path.hasPrefix("/v1/health/service/") }
            #expect(healthQueries.count == 2)
        }
    }

    @Test func anAgentRestartLeadsToReRegistrationAndTheWatchRecovers() async throws {
        // Real time: after the restart the watch's query holds an index above the agent's,
        // and (as with a real agent) only its wait running out answers it, so the wait is short.
        try await Self.withDouble { double in
            let client = try Self.client(double)
            let registration = Self.registration("greeter-1")
            let checkID = try #require(registration.checkID)
            try await client.register(registration)
            // Writes, so the index before the restart is well above where it restarts.
            for note in 0..<10 { try await client.passTTL(checkID: checkID, note: "pass \(note)") }
            let log = LogRecorder()
            var configuration = Self.fastWatch
            // The re-registrations below must land before the watch's query
            // (blocked since before the restart) runs out its wait: beside two
            // CPU hogs they once took longer than 1 s.
            configuration.wait = .seconds(5)
            let watch = HealthWatch(client: client, service: "greeter", configuration: configuration, logger: log.logger)
            var updates = watch.makeAsyncIterator()
            let before = await updates.next()
            #expect(before?.instances.map(\.id) == ["greeter-1"])
            let oldIndex = try #require(before?.index)

            let next = Task { [updates] in
                var updates = updates
                return await updates.next()
            }
            await double.waitForBlockedQueries(1)
            try await double.restart()

            // The TTL pass finds the agent without us: register again, then pass.
            let lost = await #expect(throws: ConsulError.self) { try await client.passTTL(checkID: checkID) }
            #expect(lost?.requiresRegistration == true)
            try await client.register(registration)
            try await client.passTTL(checkID: checkID)
            try await client.register(Self.registration("greeter-2", port: 5556))
            #expect(double.index < oldIndex)

            // The watch's query (old index) is answered when its wait runs out.
            // Its answer has the lower index and the new list: reported at once.
            let update = await next.value
            #expect(update?.instances.map(\.id) == ["greeter-1", "greeter-2"])
            #expect(try #require(update?.index) < oldIndex)

            await log.waitFor("starts over")

            // And it keeps working from the new, lower index.
            let following = Task { [updates] in
                var updates = updates
                return await updates.next()
            }
            try await client.register(Self.registration("greeter-3", port: 5557))
            let after = await following.value
            #expect(after?.instances.map(\.id) == ["greeter-1", "greeter-2", "greeter-3"])
        }
    }

    @Test func anIndexThatGoesBackResetsTheWatch() async throws {
        try await Self.withDouble { double in
            let client = try Self.client(double)
            let registration = Self.registration("greeter-1")
            try await client.register(registration)
            for note in 0..<5 { try await client.passTTL(checkID: registration.checkID!, note: "pass \(note)") }
            var updates = client.healthWatch(service: "greeter", configuration: Self.fastWatch).makeAsyncIterator()
            _ = await updates.next()
            let next = Task { [updates] in
                var updates = updates
                return await updates.next()
            }
            await double.waitForBlockedQueries(1)
            double.rewindIndex(to: 1)
            // The reset query is answered at once; the watch then blocks again on the new index.
            await double.waitForBlockedQueries(1)
            try await client.register(Self.registration("greeter-2", port: 5556))
            let update = await next.value
            #expect(update?.instances.map(\.id) == ["greeter-1", "greeter-2"])
            let sent = double.requests.filter { $0.path.hasPrefix("/v1/health/service/") }.map { $0.queryValue("index") }
            #expect(sent.count >= 4)
            #expect(sent[0] == nil)
            #expect(sent[2] == nil, "after the index went back the watch asked without an index: \(sent)")
        }
    }

    @Test func anUnreachableAgentIsSurvivedAndTheWatchRecovers() async throws {
        try await Self.withDouble { double in
            let client = try Self.client(double)
            try await client.register(Self.registration("greeter-1"))
            let log = LogRecorder()
            let watch = HealthWatch(client: client, service: "greeter", configuration: Self.fastWatch, logger: log.logger)
            var updates = watch.makeAsyncIterator()
            _ = await updates.next()
            let next = Task { [updates] in
                var updates = updates
                return await updates.next()
            }
            await double.waitForBlockedQueries(1)
            await double.goUnreachable()
            await log.waitFor("failed")
            let refused = await #expect(throws: ConsulError.self) { try await client.leader() }
            #expect(refused?.code == .transport)
            try await double.comeBack()
            try await client.register(Self.registration("greeter-2", port: 5556))
            let update = await next.value
            #expect(update?.instances.map(\.id) == ["greeter-1", "greeter-2"])
            await log.waitFor("recovered")
        }
    }

    @Test func noClusterLeaderIsSurvivedAndAConsistentWatchRecovers() async throws {
        try await Self.withDouble { double in
            let client = try Self.client(double)
            try await client.register(Self.registration("greeter-1"))
            let log = LogRecorder()
            var configuration = Self.fastWatch
            configuration.stale = false
            let watch = HealthWatch(client: client, service: "greeter", configuration: configuration, logger: log.logger)
            var updates = watch.makeAsyncIterator()
            _ = await updates.next()
            // Before the next query, so it is refused rather than parked.
            double.setNoLeader(true)
            let next = Task { [updates] in
                var updates = updates
                return await updates.next()
            }
            await log.waitFor("failed")
            let error = await #expect(throws: ConsulError.self) { try await client.healthService("greeter", stale: false) }
            #expect(error?.consulMessage == "No cluster leader")
            // Agent endpoints keep working without a leader.
            try await client.register(Self.registration("greeter-2", port: 5556))
            double.setNoLeader(false)
            let update = await next.value
            #expect(update?.instances.map(\.id) == ["greeter-1", "greeter-2"])
        }
    }

    @Test func aStaleWatchKeepsWorkingWithoutALeader() async throws {
        try await Self.withDouble { double in
            let client = try Self.client(double)
            try await client.register(Self.registration("greeter-1"))
            double.setNoLeader(true)
            let log = LogRecorder()
            let watch = HealthWatch(client: client, service: "greeter", configuration: Self.fastWatch, logger: log.logger)
            var updates = watch.makeAsyncIterator()
            #expect(await updates.next()?.instances.map(\.id) == ["greeter-1"])
            let next = Task { [updates] in
                var updates = updates
                return await updates.next()
            }
            await double.waitForBlockedQueries(1)
            try await client.register(Self.registration("greeter-2", port: 5556))
            #expect(await next.value?.instances.map(\.id) == ["greeter-1", "greeter-2"])
            let answer = try await client.healthService("greeter")
            #expect(answer.knownLeader == false)
            #expect(log.entries.isEmpty, "\(log.entries.map(\.message))")
        }
    }
}
