import Distributed
import Foundation
import InMemoryTracing
import Testing
import Tracing
@testable import Cort

/// A service that passes a call on to the next service, if it has one, and
/// says who it went through; and a few methods for the tracing tests.
distributed actor TracedHop {
    typealias ActorSystem = CortSystem

    let name: String
    let next: String?
    let tracer: InMemoryTracer

    init(actorSystem: CortSystem, name: String, next: String? = nil, tracer: InMemoryTracer) {
        self.actorSystem = actorSystem
        self.name = name
        self.next = next
        self.tracer = tracer
    }

    /// Calls the next service, from this node's own system.
    distributed func relay() async throws -> [String] {
        guard let next else { return [name] }
        let hop = try TracedHop.resolve(id: .service(next), using: actorSystem)
        return try await [name] + hop.relay()
    }

    /// Does its work in a span of its own, under whatever span is current.
    distributed func work() -> String {
        tracer.withSpan("work") { _ in name }
    }

    /// The metadata the call arrived with.
    distributed func metadata() -> [String: String] {
        CallContext.current?.metadata ?? [:]
    }

    distributed func fail() throws -> Int {
        throw TracedFailure()
    }
}

struct TracedFailure: Error {}

/// Refuses every call as overloaded, as a node whose own limit is reached would.
struct RefuseAsOverloaded: ServerInterceptor {
    func intercept(_ call: ServerCall,
                   next: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult {
        throw RemoteCallError(.overloaded, "refused by the test")
    }
}

/// Starts `count` nodes and a caller on one LocalDiscovery, all tracing into
/// `tracer` (or, when it is nil, with the interceptors' default tracer);
/// `host` hosts on each node; all are shut down at the end.
private func withTracedNodes<R>(
    _ count: Int, tracer: InMemoryTracer?,
    host: (CortSystem, Int) async throws -> Void,
    _ body: ([CortSystem], CortSystem) async throws -> R
) async throws -> R {
    let discovery = LocalDiscovery()
    func configuration(_ name: String, endpoint: String?) -> CortSystem.Configuration {
        .init(name: name, discovery: discovery, endpoint: endpoint, defaultTimeout: .seconds(30),
              clientInterceptors: [TracingClientInterceptor(tracer: tracer)],
              serverInterceptors: [TracingServerInterceptor(tracer: tracer)])
    }
    let caller = try CortSystem.start(configuration("caller", endpoint: nil))
    var nodes: [CortSystem] = []
    do {
        for index in 0..<count {
            let node = try CortSystem.start(configuration("node-\(index)", endpoint: "tcp://127.0.0.1:0"))
            nodes.append(node)
            try await host(node, index)
        }
        let result = try await body(nodes, caller)
        await caller.shutdown()
        for node in nodes { await node.shutdown() }
        return result
    } catch {
        await caller.shutdown()
        for node in nodes { await node.shutdown() }
        throw error
    }
}

extension FinishedInMemorySpan {
    /// A string attribute's value, nil when it is missing or not a string.
    func string(_ key: String) -> String? {
        if case .string(let value) = attributes.get(key) { return value }
        return nil
    }
}

extension SpanEvent {
    func string(_ key: String) -> String? {
        if case .string(let value) = attributes.get(key) { return value }
        return nil
    }
}

@Suite("Tracing: client and server spans, one trace across nodes")
struct TracingTests {
    @Test("a call chain across three nodes is one trace, each span the child of the one that caused it")
    func chainIsOneTrace() async throws {
        let tracer = InMemoryTracer()
        let names = ["trace-a", "trace-b", "trace-c"]
        let path = try await withTracedNodes(3, tracer: tracer, host: { node, index in
            try await node.host(names[index]) {
                TracedHop(actorSystem: $0, name: names[index], next: names.dropFirst(index + 1).first, tracer: tracer)
            }
        }) { _, caller in
            try await TracedHop.resolve(id: .service("trace-a"), using: caller).relay()
        }
        #expect(path == names)

        let spans = tracer.finishedSpans
        #expect(spans.count == 6)
        func span(_ kind: SpanKind, _ service: String) throws -> FinishedInMemorySpan {
            try #require(spans.first { $0.kind == kind && $0.string("rpc.service") == service },
                         "a \(kind) span for \(service)")
        }
        let callerClient = try span(.client, "trace-a")
        let aServer = try span(.server, "trace-a")
        let aClient = try span(.client, "trace-b")
        let bServer = try span(.server, "trace-b")
        let bClient = try span(.client, "trace-c")
        let cServer = try span(.server, "trace-c")

        #expect(Set(spans.map(\.traceID)).count == 1)
        #expect(callerClient.parentSpanID == nil)
        #expect(aServer.parentSpanID == callerClient.spanID)
        #expect(aClient.parentSpanID == aServer.spanID)
        #expect(bServer.parentSpanID == aClient.spanID)
        #expect(bClient.parentSpanID == bServer.spanID)
        #expect(cServer.parentSpanID == bClient.spanID)

        for span in spans {
            #expect(span.operationName == "TracedHop.relay()")
            #expect(span.string("rpc.system") == "cort")
            #expect(span.string("rpc.method") == "relay()")
            #expect(span.status == nil)
            #expect(span.errors.isEmpty)
        }
        for server in [aServer, bServer, cServer] {
            guard case .double(let queued) = server.attributes.get("rpc.cort.queued_ms") else {
                Issue.record("no queue time on \(server.string("rpc.service") ?? "?")")
                continue
            }
            #expect(queued >= 0)
        }
        for client in [callerClient, aClient, bClient] {
            #expect(client.events.map(\.name) == ["attempt"])
            #expect(client.events.first?.string("rpc.cort.outcome") == "answered")
        }
    }

    @Test("a call moved to another node shows both attempts as events, the refusal as its own server span, and runs the method once")
    func failoverIsSpanEvents() async throws {
        let tracer = InMemoryTracer()
        try await withTracedNodes(2, tracer: tracer, host: { node, index in
            // The busy node's refusal sits inside the system's tracing interceptor, so it has a server span.
            try await node.host("traced", interceptors: index == 0 ? [RefuseAsOverloaded()] : []) {
                TracedHop(actorSystem: $0, name: "node-\(index)", tracer: tracer)
            }
        }) { nodes, caller in
            let busy = try #require(nodes[0].endpoint)
            let free = try #require(nodes[1].endpoint)
            let hop = try TracedHop.resolve(id: .service("traced"), using: caller)
            var sawFailover = false
            // Until round robin sends a call to the busy node first: it
            // takes calls once it answered its first ping, which comes in
            // its own time however fast the calls go (a deadline, not a count).
            let deadline = ContinuousClock.now + .seconds(10)
            while !sawFailover && ContinuousClock.now < deadline {
                tracer.clearAll()
                #expect(try await hop.work() == "node-1")
                let spans = tracer.finishedSpans
                let client = try #require(spans.first { $0.kind == .client })
                guard client.events.count == 2 else { continue }
                sawFailover = true

                let (first, second) = (client.events[0], client.events[1])
                #expect(first.name == "attempt" && second.name == "attempt")
                #expect(first.string("rpc.cort.outcome") == "answered overloaded")
                #expect(first.string("rpc.cort.code") == "overloaded")
                #expect(first.string("rpc.cort.node")?.contains(busy) == true)
                #expect(second.string("rpc.cort.outcome") == "answered")
                #expect(second.string("rpc.cort.code") == nil)
                #expect(second.string("rpc.cort.node")?.contains(free) == true)
                #expect(first.nanosecondsSinceEpoch <= second.nanosecondsSinceEpoch)
                #expect(client.status == nil)
                #expect(client.string("rpc.cort.code") == nil)

                let servers = spans.filter { $0.kind == .server }
                #expect(servers.count == 2)
                #expect(servers.allSatisfy { $0.parentSpanID == client.spanID && $0.traceID == client.traceID })
                let refused = try #require(servers.first { $0.string("rpc.cort.code") == "overloaded" })
                #expect(refused.status?.code == .error)
                #expect(refused.errors.count == 1)
                let ran = try #require(servers.first { $0.string("rpc.cort.code") == nil })
                #expect(ran.status == nil)

                // The method ran once, in the span of the node that ran it.
                let work = spans.filter { $0.operationName == "work" }
                #expect(work.count == 1)
                #expect(work.first?.parentSpanID == ran.spanID)
                #expect(work.first?.traceID == client.traceID)
            }
            #expect(sawFailover, "round robin sends one of the calls to the busy node first")
        }
    }

    @Test("a method that throws: the client span has error status and the code, and so has the server span")
    func errorIsRecordedWithCode() async throws {
        let tracer = InMemoryTracer()
        try await withTracedNodes(1, tracer: tracer, host: { node, _ in
            try await node.host("traced") { TracedHop(actorSystem: $0, name: "node", tracer: tracer) }
        }) { _, caller in
            let hop = try TracedHop.resolve(id: .service("traced"), using: caller)
            let thrown = await #expect(throws: RemoteCallError.self) { _ = try await hop.fail() }
            #expect(thrown?.code == .remoteApplicationError)
        }
        let spans = tracer.finishedSpans
        let client = try #require(spans.first { $0.kind == .client })
        #expect(client.operationName == "TracedHop.fail()")
        #expect(client.status?.code == .error)
        #expect(client.string("rpc.cort.code") == "remote application error")
        #expect(client.errors.count == 1)
        #expect((client.errors.first?.error as? RemoteCallError)?.code == .remoteApplicationError)
        #expect(client.events.count == 1)
        #expect(client.events.first?.string("rpc.cort.code") == "remote application error")

        let server = try #require(spans.first { $0.kind == .server })
        #expect(server.parentSpanID == client.spanID)
        #expect(server.status?.code == .error)
        #expect(server.string("rpc.cort.code") == "remote application error")
        #expect(server.errors.count == 1)
    }

    @Test("the trace context travels in the call's metadata, next to the caller's own")
    func contextIsInMetadata() async throws {
        let tracer = InMemoryTracer()
        let metadata = try await withTracedNodes(1, tracer: tracer, host: { node, _ in
            try await node.host("traced") { TracedHop(actorSystem: $0, name: "node", tracer: tracer) }
        }) { _, caller in
            let hop = try TracedHop.resolve(id: .service("traced"), using: caller)
            return try await withCallOptions(metadata: ["tenant": "acme"]) { try await hop.metadata() }
        }
        let client = try #require(tracer.finishedSpans.first { $0.kind == .client })
        // The in-memory tracer's keys; a W3C tracer (swift-otel) injects `traceparent`.
        #expect(metadata == [
            "tenant": "acme",
            InMemoryTracer.traceIDKey: client.traceID,
            InMemoryTracer.spanIDKey: client.spanID,
        ])
        #expect(tracer.performedContextInjections.count == 1)
        #expect(tracer.performedContextExtractions.count == 1)
    }

    @Test("with no tracer bootstrapped the interceptors add nothing to the call")
    func noTracerDoesNothing() async throws {
        let metadata = try await withTracedNodes(1, tracer: nil, host: { node, _ in
            try await node.host("traced") { TracedHop(actorSystem: $0, name: "node", tracer: InMemoryTracer()) }
        }) { _, caller in
            let hop = try TracedHop.resolve(id: .service("traced"), using: caller)
            return try await withCallOptions(metadata: ["tenant": "acme"]) { try await hop.metadata() }
        }
        #expect(metadata == ["tenant": "acme"])
    }

    @Test("the interceptors' default tracer is the active one: none outside a withTracer scope, the scope's inside")
    func activeTracer() {
        #expect(CallTracing.tracer(nil) == nil)
        // The tracer found records into the scope's (InMemoryTracer is a value sharing its spans).
        let scoped = InMemoryTracer()
        let found = withTracer(scoped) { CallTracing.tracer(nil) }
        found?.startSpan("scoped").end()
        #expect(scoped.finishedSpans.map(\.operationName) == ["scoped"])
        // A configured tracer is used as it is.
        let configured = InMemoryTracer()
        CallTracing.tracer(configured)?.startSpan("configured").end()
        #expect(configured.finishedSpans.map(\.operationName) == ["configured"])
    }

    @Test("rpc.method is the method part of the readable name")
    func methodPart() {
        #expect(methodNameWithoutType("Greeter.hello(name:)") == "hello(name:)")
        #expect(methodNameWithoutType("Outer.Inner.ping()") == "ping()")
        #expect(methodNameWithoutType("ping(_:)") == "ping(_:)")
        #expect(methodNameWithoutType("$s3das7GreeterC5helloyyYaKFTE") == "$s3das7GreeterC5helloyyYaKFTE")
    }
}
