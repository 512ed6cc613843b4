import CortTesting
import Distributed
import Foundation
import Logging
import ServiceLifecycle
import Testing
@testable import Cort

/// Heartbeats, failover, backpressure and drain with several systems in one
/// process on real TCP ports (the scenarios with real processes and signals
/// are in CortProcessTests).
@Suite struct ReliabilityTests {
    /// Short heartbeats, so a node is declared dead within two seconds, yet
    /// tolerant of a loaded 2-core machine running the process scenarios
    /// (four processes and a 100,000-call flood) beside these tests. (Tests
    /// of what a node's silence does run their callers on a TestClock.)
    static let heartbeat = HeartbeatConfiguration(interval: .milliseconds(100), liveness: 20)

    static func key(_ name: String) -> String { "\(name)-\(UUID().uuidString)" }

    /// A caller whose default timeout is long: these tests do not measure
    /// deadlines, and a loaded machine may take seconds to run a call.
    static func caller(_ discovery: any Discovery, timeout: Duration = .seconds(30),
                       limits: CallLimits = CallLimits(), clock: any Clock<Duration> = ContinuousClock()) throws -> CortSystem {
        try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: timeout, clock: clock,
                                   heartbeat: heartbeat, callLimits: limits))
    }

    static func node(_ name: String, _ discovery: any Discovery, endpoint: String = "tcp://127.0.0.1:0",
                     replicas: Int = 4, queueCapacity: Int = 64) async throws -> CortSystem {
        let node = try CortSystem.start(.init(name: name, discovery: discovery, endpoint: endpoint,
                                              queueCapacity: queueCapacity, heartbeat: heartbeat))
        node.registerError(Refusal.self)
        try await node.host("ledger", replicas: replicas) { Ledger(actorSystem: $0) }
        return node
    }

    /// Lets `time` pass on `clock` while a caller on it runs: one heartbeat
    /// interval at a time, each once the caller's heartbeat work due in it
    /// has run (it sets its timer again). One jump of the clock would be a
    /// pause of the caller instead, which no node is blamed for.
    static func pass(_ time: Duration, on clock: TestClock) async {
        var passed = Duration.zero
        while passed < time {
            let sleeps = clock.sleepsStarted
            clock.advance(by: heartbeat.interval)
            passed += heartbeat.interval
            await clock.waitForSleeps(sleeps + 1)
        }
    }

    /// Receives `count` requests from `node` within `timeout`.
    static func requests(_ count: Int, from node: FrozenNode, within timeout: Duration = .seconds(30)) async -> [CallRequest] {
        await withTaskGroup(of: [CallRequest].self) { group in
            group.addTask {
                var seen: [CallRequest] = []
                for await request in node.requests {
                    seen.append(request)
                    if seen.count == count { break }
                }
                return seen
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return []
            }
            let first = await group.next() ?? []
            group.cancelAll()
            return first
        }
    }

    @Test func aFrozenNodesIdempotentCallsMoveAndItsOtherCallsEndAsOutcomeUnknown() async throws {
        let discovery = LocalDiscovery()
        let frozen = try FrozenNode(freezeAfter: 2)
        try await discovery.register(ServiceInstance(service: "ledger", id: "ledger@frozen", endpoint: frozen.endpoint))
        // The caller's heartbeats and deadlines run on virtual time: the
        // frozen node is declared dead when the test moves the clock, never
        // because a loaded machine kept a live node's pong waiting.
        let clock = TestClock()
        let caller = try Self.caller(discovery, clock: clock)
        let ledger = try Ledger.resolve(id: .service("ledger"), using: caller)
        let (readKey, appendKey) = (Self.key("read"), Self.key("append"))

        let read = Task { try await ledger.read(readKey) }
        let append = Task { try await ledger.append(appendKey) }
        // Both reach the frozen node (the only one), which then stops answering anything.
        let received = await Self.requests(2, from: frozen)
        #expect(received.count == 2)
        #expect(received.contains { $0.flags.contains(.idempotent) && $0.method == "Ledger.read(_:)" })

        // Silent for liveness × interval while the caller pinged it every
        // interval: declared dead. The append, which may have run, is not
        // sent again...
        await Self.pass(Self.heartbeat.deadAfter, on: clock)
        do {
            let answer = try await append.value
            Issue.record("a call on a frozen node cannot succeed, got \(answer)")
        } catch let error as RemoteCallError {
            #expect(error.code == .outcomeUnknown, "\(error)")
            #expect(error.message.contains("ledger@frozen"), "\(error.message)")
            #expect(error.message.contains("silent"), "\(error.message)")
        }
        #expect(Observations.shared.events(appendKey).isEmpty, "a non-idempotent call never runs twice")

        // ...and the read waits for a live node (its deadline is virtual: it
        // has all the time a loaded machine needs) and moves to it.
        let node = try await Self.node("healthy", discovery)
        let healthyEndpoint = try #require(node.endpoint)
        #expect(try await read.value == healthyEndpoint)
        #expect(Observations.shared.events(readKey) == ["read@\(healthyEndpoint)"])
        // New calls go to the live node.
        #expect(try await ledger.append(Self.key("after")) == healthyEndpoint)

        await caller.shutdown()
        await node.shutdown()
        await frozen.stop()
    }

    /// A caller that could not run for longer than a node's liveness (its
    /// process was stopped, or its threads were all taken) sent no pings in
    /// that time, so it does not blame the node's silence then: it pings
    /// first, and the node that answers keeps its calls.
    @Test func aCallerThatWasPausedDoesNotDeclareALiveNodeDead() async throws {
        let discovery = LocalDiscovery()
        let node = try await Self.node("steady", discovery)
        let endpoint = try #require(node.endpoint)
        // Virtual time: the pause is the clock moving at once by five
        // livenesses, every timer of the caller coming due that late.
        let clock = TestClock()
        let log = LogRecorder()
        let caller = try CortSystem.start(.init(
            name: "caller", discovery: discovery, defaultTimeout: .seconds(3600), clock: clock,
            logger: log.logger(level: .notice), heartbeat: Self.heartbeat))
        let ledger = try Ledger.resolve(id: .service("ledger"), using: caller)
        #expect(try await ledger.read(Self.key("warm")) == endpoint)
        let key = Self.key("held")
        let held = Task { try await ledger.holdUntilReleased(key) }
        #expect(await Observations.shared.waitFor(key) { $0.hasPrefix("started") })

        let sleeps = clock.sleepsStarted
        clock.advance(by: Self.heartbeat.deadAfter * 5)
        // The heartbeat work ran (and set the timer again): had it judged
        // the node by the pause, the held call would have ended here as
        // `outcomeUnknown`.
        await clock.waitForSleeps(sleeps + 1)
        #expect(try await ledger.read(Self.key("after")) == endpoint)
        Observations.shared.release(key)
        #expect(try await held.value == endpoint)
        #expect(Observations.shared.events(key) == ["started@\(endpoint)", "finished@\(endpoint)"])
        // Said once, as a notice naming the pause, and nothing worse.
        let paused = log.entries.filter { $0.message.contains("heartbeats ran late") }
        #expect(paused.count == 1)
        #expect(paused.first?.level == .notice)
        #expect(paused.first?.metadata["cort.pause"]?.hasSuffix("seconds") == true)
        #expect(!log.entries.contains { $0.level >= .warning }, "\(log.entries.map(\.message))")
        await caller.shutdown()
        await node.shutdown()
    }

    @Test func aNodeWhoseConnectionDropsHasItsCallsSettledAtOnce() async throws {
        let discovery = LocalDiscovery()
        let dying = try FrozenNode(freezeAfter: .max)
        try await discovery.register(ServiceInstance(service: "ledger", id: "ledger@dying", endpoint: dying.endpoint))
        // The caller's heartbeats and deadlines run on a clock that never
        // moves: only the dropped connection can settle the calls.
        let clock = TestClock()
        let caller = try CortSystem.start(.init(
            name: "caller", discovery: discovery, defaultTimeout: .seconds(30), clock: clock,
            heartbeat: HeartbeatConfiguration(interval: .seconds(1), liveness: 60)))
        let ledger = try Ledger.resolve(id: .service("ledger"), using: caller)
        let (readKey, appendKey) = (Self.key("read"), Self.key("append"))
        let read = Task { try await ledger.read(readKey) }
        let append = Task { try await ledger.append(appendKey) }
        #expect(await Self.requests(2, from: dying).count == 2)
        let node = try await Self.node("healthy", discovery)
        await dying.stop()  // its socket closes: the TCP connection drops

        #expect(try await read.value == node.endpoint)
        do {
            _ = try await append.value
            Issue.record("the node died before answering")
        } catch let error as RemoteCallError {
            #expect(error.code == .outcomeUnknown, "\(error)")
            // Settled by the dropped connection: on the caller's clock, no
            // heartbeat or deadline ever came due.
            #expect(error.message.contains("connection is gone"), "\(error.message)")
        }
        await caller.shutdown()
        await node.shutdown()
    }

    @Test func aDrainingNodeFinishesItsCallsAndIsSentNoNewOnes() async throws {
        let discovery = LocalDiscovery()
        // More replicas than held calls: a call sent to it before the drain
        // (the other node not yet live) is served, not queued behind them.
        let leaving = try await Self.node("leaving", discovery, replicas: 8)
        let caller = try Self.caller(discovery)
        let service = try Ledger.resolve(id: .service("ledger"), using: caller)
        let leavingEndpoint = try #require(leaving.endpoint)
        #expect(try await service.read(Self.key("warm")) == leavingEndpoint)

        // Calls in flight on the node when it starts to drain, held until the test releases them.
        let holdKeys = (0..<4).map { Self.key("hold-\($0)") }
        let holds = holdKeys.map { key in Task { try await service.holdUntilReleased(key) } }
        for key in holdKeys {
            #expect(await Observations.shared.waitFor(key) { $0.hasPrefix("started") })
        }
        let staying = try await Self.node("staying", discovery)
        let stayingEndpoint = try #require(staying.endpoint)
        let draining = Task { await leaving.shutdown() }

        // The drain frame reaches the caller while the held calls run: from
        // then on, every call goes to the other node and none is refused.
        let deadline = ContinuousClock.now + .seconds(30)
        var answeredBy: [String] = []
        while ContinuousClock.now < deadline {
            let endpoint = try await service.append(Self.key("during"))
            answeredBy.append(endpoint)
            if endpoint == stayingEndpoint { break }
        }
        #expect(answeredBy.last == stayingEndpoint)
        for _ in 0..<10 {
            #expect(try await service.append(Self.key("after")) == stayingEndpoint)
        }
        for key in holdKeys { Observations.shared.release(key) }
        for hold in holds {
            #expect(try await hold.value == leavingEndpoint, "accepted calls finish during the drain")
        }
        await draining.value
        #expect(holdKeys.allSatisfy { Observations.shared.events($0) == ["started@\(leavingEndpoint)", "finished@\(leavingEndpoint)"] })

        await caller.shutdown()
        await staying.shutdown()
    }

    @Test func anOverloadedNodePassesCallsToAnotherNodeAndNoneRunsTwice() async throws {
        let discovery = LocalDiscovery()
        let small = try await Self.node("small", discovery, replicas: 1, queueCapacity: 1)
        let large = try await Self.node("large", discovery, replicas: 8)
        let (smallEndpoint, largeEndpoint) = (try #require(small.endpoint), try #require(large.endpoint))
        // This caller pings rarely: it goes by the room the small node had
        // when it first answered, so it sends it more than it can take.
        let caller = try CortSystem.start(.init(
            name: "caller", discovery: discovery, defaultTimeout: .seconds(30),
            heartbeat: HeartbeatConfiguration(interval: .seconds(30), liveness: 3)))
        let service = try Ledger.resolve(id: .service("ledger"), using: caller)
        var answeredBy: Set<String> = []
        // Bounded by time, not by a count of calls: a fast caller used 20
        // calls up before the second node's handshake was done.
        let warmUntil = ContinuousClock.now + .seconds(20)
        while answeredBy.count < 2 && ContinuousClock.now < warmUntil {
            answeredBy.insert(try await service.read(Self.key("warm")))
        }
        #expect(answeredBy == [smallEndpoint, largeEndpoint])

        // Another caller, who knows only the small node, fills it: one call
        // holds its one worker, the other takes the one place its queue has
        // (handed on to the pool, it counts against the queue). So whatever
        // room the caller believes the small node has (its last pong may
        // predate or follow its last answer), each call it sends there is
        // refused: the other caller has one waiting there, this one none,
        // which is not enough to push it out.
        let otherDiscovery = LocalDiscovery()
        try await otherDiscovery.register(ServiceInstance(service: "ledger", id: "small-only", endpoint: smallEndpoint))
        let busyCaller = try Self.caller(otherDiscovery)
        let busyService = try Ledger.resolve(id: .service("ledger"), using: busyCaller)
        let busyKeys = [Self.key("busy"), Self.key("queued")]
        let busy = Task { try await busyService.holdUntilReleased(busyKeys[0]) }
        #expect(await Observations.shared.waitFor(busyKeys[0]) { $0.hasPrefix("started") })
        let queued = Task { try await busyService.holdUntilReleased(busyKeys[1]) }
        var accepted = 0
        for _ in 0..<3000 where accepted < 2 {
            accepted = try await small.nodeSnapshot().calls
            if accepted < 2 { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(accepted == 2, "the small node holds the other caller's second call too")

        let keys = (0..<8).map { Self.key("flood-\($0)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for key in keys {
                group.addTask { _ = try await service.append(key) }
            }
            try await group.waitForAll()
        }
        let refusals = try await small.nodeCounters().errorAnswers
        for key in busyKeys { Observations.shared.release(key) }
        for key in keys {
            #expect(Observations.shared.events(key).count == 1, "ran once: \(Observations.shared.events(key))")
        }
        #expect(refusals > 0, "the small node refused some calls, and they ran elsewhere")
        #expect(try await busy.value == smallEndpoint)
        #expect(try await queued.value == smallEndpoint, "the queued call ran after the busy one")
        await busyCaller.shutdown()
        await caller.shutdown()
        await small.shutdown()
        await large.shutdown()
    }

    @Test func whenEveryNodeIsFullACallFailsFastOrWaits() async throws {
        let discovery = LocalDiscovery()
        let node = try await Self.node("full", discovery)
        let failFast = try Self.caller(discovery, limits: CallLimits(perNode: 2, perService: 2, whenFull: .failFast))
        let waiting = try Self.caller(discovery, limits: CallLimits(perNode: 2, perService: 2, whenFull: .wait))

        for (caller, waits) in [(failFast, false), (waiting, true)] {
            let service = try Ledger.resolve(id: .service("ledger"), using: caller)
            let keys = (0..<2).map { Self.key("busy-\($0)") }
            // Held until released, so they fill the caller's limits whenever the third call is made.
            let busy = keys.map { key in Task { try await service.holdUntilReleased(key) } }
            for key in keys {
                #expect(await Observations.shared.waitFor(key) { $0.hasPrefix("started") })
            }
            let third = Self.key("third")
            if waits {
                let thirdCall = Task { try await service.append(third) }
                // Room comes only when a held call ends.
                Observations.shared.release(keys[0])
                #expect(try await thirdCall.value == node.endpoint)
                #expect(Observations.shared.events(keys[0]).count == 2, "it waited for room")
            } else {
                do {
                    let answer = try await service.append(third)
                    Issue.record("every node is full, yet the call ran: \(answer)")
                } catch let error as RemoteCallError {
                    #expect(error.code == .overloaded)
                    #expect(error.message.contains("not sent"), "\(error.message)")
                }
                #expect(Observations.shared.events(third).isEmpty, "a call refused by the caller never ran")
            }
            for key in keys { Observations.shared.release(key) }
            for call in busy { _ = try await call.value }
        }
        await failFast.shutdown()
        await waiting.shutdown()
        await node.shutdown()
    }

    @Test func aNodeThatLeftAndCameBackThroughDiscoveryGetsCallsAgain() async throws {
        let discovery = LocalDiscovery()
        let steady = try await Self.node("steady", discovery)
        let first = try await Self.node("first", discovery)
        let caller = try Self.caller(discovery)
        let service = try Ledger.resolve(id: .service("ledger"), using: caller)
        _ = try await service.read(Self.key("before"))
        await first.shutdown()
        let second = try await Self.node("second", discovery)
        let secondEndpoint = try #require(second.endpoint)
        // Until the new node answers one: discovery's news and the new
        // node's first pong come in their own time (tasks on the global
        // pool, shared with every suite beside this one), however fast the
        // calls go, so the bound is a deadline rather than a count.
        var answeredBy: [String: Int] = [:]
        var last: String?
        let deadline = ContinuousClock.now + .seconds(20)
        while last != secondEndpoint && ContinuousClock.now < deadline {
            let node = try await service.read(Self.key("after"))
            answeredBy[node, default: 0] += 1
            last = node
        }
        #expect(last == secondEndpoint, "the new node gets calls: \(answeredBy)")
        await caller.shutdown()
        await second.shutdown()
        await steady.shutdown()
    }

    @Test func aRestartBehindTheSameEndpointSettlesTheCallsTheOldProcessHad() async throws {
        let fake = try FrozenNode(freezeAfter: 1)
        // Heartbeats on virtual time: the caller pings again only when the
        // test moves its clock, after the restart, and one interval is far
        // from the 50 that would declare the old incarnation dead.
        let clock = TestClock()
        let heartbeat = HeartbeatConfiguration(interval: .milliseconds(100), liveness: 50)
        let caller = try CortSystem.start(.init(
            name: "caller", discovery: try StaticDiscovery(["ledger": [fake.endpoint]]), defaultTimeout: .seconds(30),
            clock: clock, heartbeat: heartbeat))
        let service = try Ledger.resolve(id: .service("ledger"), using: caller)
        let key = Self.key("lost")
        let call = Task { try await service.append(key) }
        #expect(await Self.requests(1, from: fake).count == 1)
        // Before the caller could declare it dead, a new incarnation answers its next ping.
        fake.restart(incarnation: 43)
        clock.advance(by: heartbeat.interval)
        do {
            _ = try await call.value
            Issue.record("the old process never answered")
        } catch let error as RemoteCallError {
            #expect(error.code == .outcomeUnknown, "\(error)")
            #expect(error.message.contains("restarted"), "\(error.message)")
        }
        await caller.shutdown()
        await fake.stop()
    }

    @Test func applicationErrorsDoNotTakeANodeOutOfRotation() async throws {
        let discovery = LocalDiscovery()
        let node = try await Self.node("erring", discovery)
        let caller = try Self.caller(discovery)
        caller.registerError(Refusal.self)
        let service = try Ledger.resolve(id: .service("ledger"), using: caller)
        for attempt in 0..<5 {
            await #expect(throws: Refusal(reason: "no \(attempt)")) { try await service.refuse("no \(attempt)") }
        }
        #expect(try await service.append(Self.key("still")) == node.endpoint)
        await caller.shutdown()
        await node.shutdown()
    }

    @Test func aNodeThatNeverAnswersEndsTheCallAtItsDeadlineWithItsState() async throws {
        // A port nothing listens on, held for the test (a node's port, shut
        // down, was once given to another test's node meanwhile): the
        // connection never comes up.
        let closed = try closedEndpoint()
        let caller = try Self.caller(try StaticDiscovery(["ledger": [closed.endpoint]]))
        let service = try Ledger.resolve(id: .service("ledger"), using: caller)
        do {
            // Long enough for the node list to arrive while other tests load both cores.
            _ = try await CallOptions.$current.withValue(CallOptions(timeout: .seconds(10))) {
                try await service.append(Self.key("nobody"))
            }
            Issue.record("a call with no live node cannot succeed")
        } catch let error as RemoteCallError {
            #expect(error.code == .noNodes, "\(error)")
            #expect(error.message.contains("connecting"), "\(error.message)")
        }
        await caller.shutdown()
        withExtendedLifetime(closed) {}
    }

    @Test func aSystemInAServiceGroupDrainsOnGracefulShutdown() async throws {
        let discovery = LocalDiscovery()
        let node = try await Self.node("grouped", discovery)
        let endpoint = try #require(node.endpoint)
        let caller = try Self.caller(discovery)
        let service = try Ledger.resolve(id: .service("ledger"), using: caller)
        let group = ServiceGroup(services: [node], gracefulShutdownSignals: [], logger: Logger(label: "test"))
        let running = Task { try await group.run() }
        let key = Self.key("grouped")
        let call = Task { try await service.holdUntilReleased(key) }
        #expect(await Observations.shared.waitFor(key) { $0.hasPrefix("started") })
        await group.triggerGracefulShutdown()
        Observations.shared.release(key)
        #expect(try await call.value == endpoint, "the call accepted before the shutdown finishes")
        try await running.value
        let hostingAfterwards = await #expect(throws: ConfigurationError.self) {
            try await node.host("again") { Ledger(actorSystem: $0) }
        }
        #expect(hostingAfterwards?.code == .shutDown)
        await caller.shutdown()
    }
}
