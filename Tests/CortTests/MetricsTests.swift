import CoreMetrics
import CortMessagePack
import Distributed
import Foundation
import MetricsTestKit
import Testing
@testable import Cort

/// cort's metrics, recorded to a `TestMetrics` each test passes (nothing is
/// bootstrapped globally), asserted by value on real nodes.
@Suite("Metrics of calls, nodes and callers")
struct MetricsTests {
    static let metadata = "MetadataEcho.metadata(_:)"
    static let fail = "MetadataEcho.fail()"

    /// Waits until `condition` holds, at most `timeout`; returns whether it did.
    static func eventually(_ timeout: Duration = .seconds(30),
                           _ condition: () async throws -> Bool) async rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return try await condition()
    }

    static func counter(_ metrics: TestMetrics, _ label: String, _ dimensions: [(String, String)]) -> Int64 {
        (try? metrics.expectCounter(label, dimensions).totalValue) ?? 0
    }

    @Test("calls are counted by outcome on both sides, with their durations, queue times and load")
    func callsByOutcome() async throws {
        let callerMetrics = TestMetrics()
        let nodeMetrics = TestMetrics()
        let discovery = LocalDiscovery()
        let node = try CortSystem.start(.init(
            name: "node", discovery: discovery, endpoint: "tcp://127.0.0.1:0",
            metricsFactory: nodeMetrics))
        let caller = try CortSystem.start(.init(
            name: "caller", discovery: discovery, defaultTimeout: .seconds(30),
            metricsFactory: callerMetrics))
        try await shuttingDown([caller, node]) {
            try await node.host("echo", interceptors: [TokenCheck(token: "s3cret", code: .permissionDenied)]) {
                MetadataEcho(actorSystem: $0)
            }
            let echo = try MetadataEcho.resolve(id: .service("echo"), using: caller)
            for _ in 0..<3 {
                #expect(try await withCallOptions(metadata: ["token": "s3cret"]) { try await echo.metadata("token") }
                        == "s3cret")
            }
            let denied = await #expect(throws: RemoteCallError.self) { _ = try await echo.metadata("token") }
            #expect(denied?.code == .permissionDenied)
            let failed = await #expect(throws: RemoteCallError.self) {
                _ = try await withCallOptions(metadata: ["token": "s3cret"]) { try await echo.fail() }
            }
            #expect(failed?.code == .remoteApplicationError)
            try await node.waitUntilNodeIdle()

            // The caller.
            let calls = CallMetrics.clientCalls
            #expect(Self.counter(callerMetrics, calls, [("service", "echo"), ("method", Self.metadata), ("code", "ok")]) == 3)
            #expect(Self.counter(callerMetrics, calls, [("service", "echo"), ("method", Self.metadata),
                                                        ("code", "permission_denied")]) == 1)
            #expect(Self.counter(callerMetrics, calls, [("service", "echo"), ("method", Self.fail),
                                                        ("code", "remote_application_error")]) == 1)
            #expect(callerMetrics.counterTotal(label: calls) == 5)
            let durations = try callerMetrics.expectTimer(CallMetrics.clientCallDuration,
                                                          [("service", "echo"), ("method", Self.metadata)])
            #expect(durations.values.count == 4)
            #expect(durations.values.allSatisfy { $0 > 0 }, "\(durations.values)")
            let failDurations = try callerMetrics.expectTimer(CallMetrics.clientCallDuration,
                                                              [("service", "echo"), ("method", Self.fail)])
            #expect(failDurations.values.count == 1)
            let inFlight = try callerMetrics.expectMeter(CallMetrics.clientCallsInFlight, [("service", "echo")])
            #expect(inFlight.values == [1, 0, 1, 0, 1, 0, 1, 0, 1, 0], "one call at a time, each counted in and out")
            #expect(callerMetrics.counterTotal(label: CallMetrics.clientFailovers) == 0)
            #expect(callerMetrics.counterTotal(label: CallMetrics.clientOverloaded) == 0)
            #expect(Self.counter(callerMetrics, CallMetrics.clientNodeStateChanges,
                                 [("service", "echo"), ("state", "connected")]) == 1)

            // The node.
            let served = CallMetrics.serverCalls
            #expect(Self.counter(nodeMetrics, served, [("service", "echo"), ("method", Self.metadata), ("code", "ok")]) == 3)
            #expect(Self.counter(nodeMetrics, served, [("service", "echo"), ("method", Self.metadata),
                                                       ("code", "permission_denied")]) == 1)
            #expect(Self.counter(nodeMetrics, served, [("service", "echo"), ("method", Self.fail),
                                                       ("code", "remote_application_error")]) == 1)
            #expect(nodeMetrics.counterTotal(label: served) == 5)
            let ran = try nodeMetrics.expectTimer(CallMetrics.serverCallDuration,
                                                  [("service", "echo"), ("method", Self.metadata)])
            #expect(ran.values.count == 4)
            #expect(ran.values.allSatisfy { $0 >= 0 })
            let queued = try nodeMetrics.expectTimer(CallMetrics.serverQueueTime, [("service", "echo")])
            #expect(queued.values.count == 5)
            #expect(queued.values.allSatisfy { $0 >= 0 })
            // One call at a time: one replica busy, none waiting, and idle at the end.
            let busy = try nodeMetrics.expectMeter(CallMetrics.serverBusyReplicas, [("service", "echo")])
            #expect(busy.values.max() == 1 && busy.lastValue == 0, "\(busy.values)")
            #expect(nodeMetrics.meters(label: CallMetrics.serverQueueDepth).allSatisfy { $0.values.allSatisfy { $0 == 0 } })
            #expect(nodeMetrics.counterTotal(label: CallMetrics.serverRefused) == 0)
            #expect(nodeMetrics.counterTotal(label: CallMetrics.serverBadFrames) == 0)
        }
    }

    @Test("calls that move off a node that refuses them as overloaded are counted as failovers")
    func failoversAndOverloadedAttempts() async throws {
        let callerMetrics = TestMetrics()
        let busyMetrics = TestMetrics()
        let freeMetrics = TestMetrics()
        let discovery = LocalDiscovery()
        let busy = try CortSystem.start(.init(name: "busy", discovery: discovery, endpoint: "tcp://127.0.0.1:0",
                                              metricsFactory: busyMetrics))
        let free = try CortSystem.start(.init(name: "free", discovery: discovery, endpoint: "tcp://127.0.0.1:0",
                                              metricsFactory: freeMetrics))
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(30),
                                                metricsFactory: callerMetrics))
        try await shuttingDown([caller, busy, free]) {
            // The busy node refuses every call as overloaded (it did not run), so each moves to the free one.
            try await busy.host("echo", interceptors: [TokenCheck(token: "never", code: .overloaded)]) {
                MetadataEcho(actorSystem: $0)
            }
            try await free.host("echo") { MetadataEcho(actorSystem: $0) }
            let echo = try MetadataEcho.resolve(id: .service("echo"), using: caller)
            let refusedBy = { Self.counter(busyMetrics, CallMetrics.serverCalls,
                                           [("service", "echo"), ("method", Self.metadata), ("code", "overloaded")]) }
            var made = 0
            // Round robin sends some calls to the busy node first.
            while made < 6 || (refusedBy() == 0 && made < 60) {
                #expect(try await echo.metadata("x") == "-")
                made += 1
            }
            let moved = refusedBy()
            #expect(moved > 0)
            #expect(callerMetrics.counterTotal(label: CallMetrics.clientFailovers) == moved)
            #expect(Self.counter(callerMetrics, CallMetrics.clientFailovers, [("service", "echo")]) == moved)
            #expect(Self.counter(callerMetrics, CallMetrics.clientOverloaded, [("service", "echo")]) == moved)
            #expect(Self.counter(callerMetrics, CallMetrics.clientCalls,
                                 [("service", "echo"), ("method", Self.metadata), ("code", "ok")]) == Int64(made))
            #expect(callerMetrics.counterTotal(label: CallMetrics.clientCalls) == Int64(made))
            #expect(busyMetrics.counterTotal(label: CallMetrics.serverCalls) == moved)
            #expect(Self.counter(freeMetrics, CallMetrics.serverCalls,
                                 [("service", "echo"), ("method", Self.metadata), ("code", "ok")]) == Int64(made))
        }
    }

    @Test("a node records its load per service, and the calls of a caller that left as abandoned")
    func loadAndAbandonedCalls() async throws {
        let metrics = TestMetrics()
        let wait = try await CapturedRequests.request(Worker.self) { _ = try await $0.wait("x", seconds: 30) }
        try await withNodeAndCaller(
            node: { .init(name: "node", discovery: $0, endpoint: "tcp://127.0.0.1:0", metricsFactory: metrics) },
            caller: { .init(name: "caller", discovery: $0, defaultTimeout: .seconds(30)) },
            host: { try await $0.host("worker", replicas: 1, queueCapacity: 16) { Worker(actorSystem: $0) } }
        ) { node, _ in
            let leaver = try RawCaller()
            try leaver.connect(try #require(node.endpoint))
            let keys = (0..<3).map { "metrics-left-\($0)-\(UUID())" }
            for (index, key) in keys.enumerated() {
                var request = wait
                request.id = UInt64(index + 1)
                request.service = "worker"
                request.timeout = .seconds(60)
                request.arguments[0] = try MessagePackEncoder().encode(key)
                try await leaver.send(.request(request))
            }
            #expect(await Observations.shared.waitFor(keys[0]) { $0 == "started" })
            #expect(try await Self.eventually { try await node.nodeSnapshot().calls == 3 })
            // One replica runs the first call; the second waits in the pool, the third in the queue.
            let depth = try metrics.expectMeter(CallMetrics.serverQueueDepth, [("service", "worker")])
            let busy = try metrics.expectMeter(CallMetrics.serverBusyReplicas, [("service", "worker")])
            #expect(depth.lastValue == 2, "\(depth.values)")
            #expect(busy.lastValue == 1, "\(busy.values)")

            leaver.close()
            #expect(await within(.seconds(30)) { try await node.waitUntilNodeIdle() } != nil)
            #expect(Self.counter(metrics, CallMetrics.serverAbandoned, []) == 3)
            #expect(depth.lastValue == 0, "\(depth.values)")
            #expect(busy.lastValue == 0, "\(busy.values)")
            #expect(metrics.counterTotal(label: CallMetrics.serverRefused) == 0)
            #expect(Self.counter(metrics, CallMetrics.serverDenied, []) == 0)
        }
    }

    @Test("a bad frame from a raw socket is counted once, by its kind")
    func badFramesByKind() async throws {
        let metrics = TestMetrics()
        try await withNodeAndCaller(
            node: { .init(name: "node", discovery: $0, endpoint: "tcp://127.0.0.1:0", metricsFactory: metrics) },
            caller: { .init(name: "caller", discovery: $0, defaultTimeout: .seconds(30)) },
            host: { try await $0.host("greeter") { Greeter(actorSystem: $0) } }
        ) { node, _ in
            let raw = try RawSocket(.dealer)
            try raw.socket.connect(try #require(node.endpoint))
            let badFrames = CallMetrics.serverBadFrames
            #expect(try await raw.exchange([[0xc1, 0x00, 0x01]], within: .seconds(30)) != nil, "answered")
            #expect(Self.counter(metrics, badFrames, [("kind", "malformed_envelope")]) == 1)
            #expect(Self.counter(metrics, badFrames, [("kind", "frame_count")]) == 0)
            #expect(try await raw.exchange([[0xc1], [0xc1]], within: .seconds(30)) != nil, "answered")
            #expect(Self.counter(metrics, badFrames, [("kind", "frame_count")]) == 1)
            #expect(Self.counter(metrics, badFrames, [("kind", "malformed_envelope")]) == 1)
            #expect(Self.counter(metrics, badFrames, [("kind", "unauthenticated")]) == 0)
            #expect(try await node.nodeCounters().badFrames == 2)
        }
    }

    @Test("a caller counts a node that connects, drains and dies")
    func nodeStateChanges() async throws {
        let metrics = TestMetrics()
        // The node registers with a discovery of its own: the caller's keeps
        // listing it after it shut down, so its connection drops under the caller.
        let node = try CortSystem.start(.init(name: "node", discovery: LocalDiscovery(), endpoint: "tcp://127.0.0.1:0"))
        try await node.host("greeter") { Greeter(actorSystem: $0) }
        let discovery = LocalDiscovery()
        try await discovery.register(ServiceInstance(service: "greeter", id: "greeter@node",
                                                     endpoint: try #require(node.endpoint)))
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(30),
                                                metricsFactory: metrics))
        let state = { (name: String) in
            Self.counter(metrics, CallMetrics.clientNodeStateChanges, [("service", "greeter"), ("state", name)])
        }
        do {
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            #expect(try await greeter.hello(name: "Ada") == "Hello, Ada!")
            #expect(state("connected") == 1)
            #expect(state("dead") == 0)
            await node.shutdown()
            #expect(await Self.eventually { state("dead") > 0 }, "the caller saw the node go")
            #expect(state("dead") == 1)
            #expect(state("draining") == 1)
            #expect(state("connected") == 1)
            #expect(state("revived") == 0)
        } catch {
            await caller.shutdown()
            await node.shutdown()
            throw error
        }
        await caller.shutdown()
    }

    @Test("without a factory the interceptors record to the one bound at call time, and to none outside it")
    func factoryReadAtCallTime() async throws {
        let metrics = TestMetrics()
        try await withNodeAndCaller(
            node: { .init(name: "node", discovery: $0, endpoint: "tcp://127.0.0.1:0",
                          serverInterceptors: [MetricsServerInterceptor()], instrumented: false) },
            caller: { .init(name: "caller", discovery: $0, defaultTimeout: .seconds(30),
                            clientInterceptors: [MetricsClientInterceptor()], instrumented: false) },
            host: { try await $0.host("greeter") { Greeter(actorSystem: $0) } }
        ) { _, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            // Nothing bootstrapped: recorded nowhere.
            #expect(try await greeter.hello(name: "Ada") == "Hello, Ada!")
            let greetings = try await withMetricsFactory(metrics) { () async throws -> [String] in
                [try await greeter.hello(name: "Ada"), try await greeter.hello(name: "Ada")]
            }
            #expect(greetings == ["Hello, Ada!", "Hello, Ada!"])
            #expect(Self.counter(metrics, CallMetrics.clientCalls, [
                ("service", "greeter"), ("method", "Greeter.hello(name:)"), ("code", "ok")]) == 2)
            #expect(metrics.counterTotal(label: CallMetrics.clientCalls) == 2)
            // The node's methods run in tasks of their own, outside the caller's binding.
            #expect(metrics.counterTotal(label: CallMetrics.serverCalls) == 0)
        }
    }

    @Test("a table of metrics keeps at most its capacity, then counts under other")
    func tableIsBounded() {
        let table = MetricsTable<String, Int>(capacity: 2)
        var made = 0
        func value(_ key: String) -> Int {
            table.value(for: key, overflow: { _ in CallMetrics.other }) { _ in
                made += 1
                return made
            }
        }
        #expect(value("a") == 1)
        #expect(value("b") == 2)
        #expect(value("a") == 1)
        #expect(value("c") == 3, "over capacity: the overflow key, made once")
        #expect(value("d") == 3)
        #expect(table.count == 3)
        #expect(CallMetrics.codeValue(nil) == "ok")
        #expect(CallMetrics.codeValue(.remoteApplicationError) == "remote_application_error")
        #expect(CallMetrics.codeValue(.deadlineExceeded) == "deadline_exceeded")
    }
}
