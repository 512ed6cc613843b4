import CortTesting
import FlyingFox
import Foundation
import Testing
@testable import CortConsul

@Suite struct HealthWatchTests {
    /// A watch configuration for tests: fast refill and backoff. A blocking
    /// round returns as soon as the list changes; its wait is long (30 s) so
    /// that a loaded machine's slow change still comes within one round.
    static var fast: HealthWatch.Configuration {
        var configuration = HealthWatch.Configuration()
        configuration.wait = .seconds(30)
        configuration.refillInterval = .milliseconds(5)
        configuration.backoffBase = .milliseconds(5)
        configuration.backoffCap = .milliseconds(20)
        return configuration
    }

    @Test func aNewInstanceIsSeenWithinOneBlockingRound() async throws {
        let health = ScriptedHealth(index: 5, instances: ["a"])
        try await withStubAgent(health.handle) { agent in
            let client = try agent.client()
            var updates = client.healthWatch(service: "greeter", configuration: Self.fast).makeAsyncIterator()
            let first = await updates.next()
            #expect(first?.instances.map(\.id) == ["a"])
            #expect(first?.instances.first?.address == "10.1.10.12")
            health.set(index: 6, instances: ["a", "b"])
            let second = await updates.next()
            #expect(second?.instances.map(\.id) == ["a", "b"])
            #expect(second?.index == 6)
            // One answer at once, one blocking round that returned with the change.
            #expect(agent.requests.count == 2)
            #expect(agent.requests.last?.query["index"] == "5")
            #expect(agent.requests.last?.query["wait"] == "30s")
            #expect(agent.requests.last?.query.keys.contains("passing") == true)
            #expect(agent.requests.last?.query.keys.contains("stale") == true)
        }
    }

    @Test func anIndexThatGoesBackResetsTheWatch() async throws {
        let health = ScriptedHealth(index: 100, instances: ["a"])
        try await withStubAgent(health.handle) { agent in
            let client = try agent.client()
            var updates = client.healthWatch(service: "greeter", configuration: Self.fast).makeAsyncIterator()
            _ = await updates.next()
            // An agent restart: the index starts again from a low value.
            health.set(index: 3, instances: ["a", "c"])
            let afterRestart = await updates.next()
            #expect(afterRestart?.instances.map(\.id) == ["a", "c"])
            health.set(index: 4, instances: ["c"])
            let later = await updates.next()
            #expect(later?.instances.map(\.id) == ["c"])
            let sent = agent.requests.map { $0.query["index"] }
            // 100 was sent and answered with 3: the next query starts over at 0 (no index).
            #expect(sent.starts(with: [nil, "100", nil]), "\(sent)")
        }
    }

    @Test func anOutageKeepsTheWatchGoingUntilItRecovers() async throws {
        let health = ScriptedHealth(index: 5, instances: ["a"])
        try await withStubAgent(health.handle) { agent in
            let client = try agent.client()
            var updates = client.healthWatch(service: "greeter", configuration: Self.fast).makeAsyncIterator()
            _ = await updates.next()
            health.fail((.internalServerError, "No cluster leader"))
            let recovered = Task { [updates] in
                var updates = updates
                return await updates.next()
            }
            var failed = 0
            for await query in health.queries where query.failed {
                failed += 1
                if failed == 3 { break }
            }
            health.fail(nil)
            health.set(index: 9, instances: ["a", "b"])
            let update = await recovered.value
            #expect(update?.instances.map(\.id) == ["a", "b"])
            #expect(failed == 3)
        }
    }

    @Test func backoffSleepsOnTheInjectedClock() async throws {
        let health = ScriptedHealth(index: 5, instances: ["a"])
        health.fail((.internalServerError, "No known Consul servers"))
        try await withStubAgent(health.handle) { agent in
            let client = try agent.client()
            var configuration = Self.fast
            configuration.backoffBase = .seconds(3600)
            configuration.backoffCap = .seconds(7200)
            let clock = TestClock()
            let watch = client.healthWatch(service: "greeter", configuration: configuration, clock: clock)
            let first = Task {
                var updates = watch.makeAsyncIterator()
                return await updates.next()
            }
            var sleeps = clock.sleeps.makeAsyncIterator()
            // An hour of virtual backoff, asked of the test clock, not slept for real.
            let backoff = await sleeps.next()
            #expect(backoff == .seconds(3600))
            health.fail(nil)
            clock.advance(by: .seconds(3600))
            let update = await first.value
            #expect(update?.instances.map(\.id) == ["a"])
            #expect(agent.requests.count == 2)
        }
    }

    @Test func cancellingTheConsumerEndsTheSequence() async throws {
        let health = ScriptedHealth(index: 5, instances: ["a"])
        try await withStubAgent(health.handle) { agent in
            let client = try agent.client()
            let watch = client.healthWatch(service: "greeter", configuration: Self.fast)
            let consumer = Task {
                var seen = 0
                for await _ in watch { seen += 1 }
                return seen
            }
            // Wait for the blocking query (the second, with index 5) to be held by the agent.
            for await index in health.arrivals where index == 5 { break }
            consumer.cancel()
            #expect(await consumer.value == 1)
        }
    }

    @Test func shuttingTheClientDownEndsTheSequence() async throws {
        let health = ScriptedHealth(index: 5, instances: ["a"])
        try await withStubAgent(health.handle) { agent in
            let client = try agent.client()
            var updates = client.healthWatch(service: "greeter", configuration: Self.fast).makeAsyncIterator()
            _ = await updates.next()
            client.shutdown()
            #expect(await updates.next() == nil)
        }
    }
    @Test func nextUpdateThrowsTheFailureAndRetriesAfterTheBackoffWhenCalledAgain() async throws {
        let health = ScriptedHealth(index: 5, instances: ["a"])
        health.fail((.forbidden, "Permission denied"))
        try await withStubAgent(health.handle) { agent in
            let client = try agent.client()
            var configuration = Self.fast
            configuration.backoffBase = .seconds(60)
            configuration.backoffCap = .seconds(60)
            let clock = TestClock()
            var updates = client.healthWatch(service: "greeter", configuration: configuration, clock: clock)
                .makeAsyncIterator()
            let error = await #expect(throws: ConsulError.self) { try await updates.nextUpdate() }
            #expect(error?.status == 403)
            #expect(error?.consulMessage == "Permission denied")
            #expect(error?.isAuthorizationFailure == true)
            #expect(agent.requests.count == 1)

            // Called again, the same iterator waits out the backoff on its clock, then asks.
            health.fail(nil)
            let retried = Task { [updates] in
                var updates = updates
                return try await updates.nextUpdate()
            }
            var sleeps = clock.sleeps.makeAsyncIterator()
            #expect(await sleeps.next() == .seconds(60))
            clock.advance(by: .seconds(60))
            #expect(try await retried.value?.instances.map(\.id) == ["a"])
            #expect(agent.requests.count == 2)
        }
    }

    @Test func nextUpdateGoesThroughAnIndexThatGoesBackAndUnchangedListsWithoutThrowing() async throws {
        let health = ScriptedHealth(index: 100, instances: ["a"])
        try await withStubAgent(health.handle) { agent in
            let client = try agent.client()
            var updates = client.healthWatch(service: "greeter", configuration: Self.fast).makeAsyncIterator()
            #expect(try await updates.nextUpdate()?.instances.map(\.id) == ["a"])
            // An agent restart, with the same list: no update, the watch starts over.
            health.set(index: 3, instances: ["a"])
            let next = Task { [updates] in
                var updates = updates
                return try await updates.nextUpdate()
            }
            for await index in health.arrivals where index == 3 { break }
            // A change at last.
            health.set(index: 4, instances: ["a", "b"])
            #expect(try await next.value?.instances.map(\.id) == ["a", "b"])
            let sent = agent.requests.map { $0.query["index"] }
            #expect(sent.starts(with: [nil, "100", nil, "3"]), "\(sent)")
        }
    }

    @Test func nextUpdateEndsWithNilWhenTheClientIsShutDown() async throws {
        let health = ScriptedHealth(index: 5, instances: ["a"])
        try await withStubAgent(health.handle) { agent in
            let client = try agent.client()
            var updates = client.healthWatch(service: "greeter", configuration: Self.fast).makeAsyncIterator()
            _ = try await updates.nextUpdate()
            client.shutdown()
            #expect(try await updates.nextUpdate() == nil)
        }
    }
}
