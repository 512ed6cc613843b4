@testable import Cort
import CortTesting
import Distributed
import Foundation
import Testing

@Suite struct CortSystemTests {
    @Test func typedCallAcrossSystemsOnRealPorts() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("greeter", replicas: 2) { Greeter(actorSystem: $0) }
            #expect(node.endpoint?.hasPrefix("tcp://127.0.0.1:") == true)
            #expect(node.endpoint?.hasSuffix(":0") == false)
        }) { _, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            #expect(try await greeter.hello(name: "Ada") == "Hello, Ada!")
            #expect(try await greeter.hello(name: "Grace") == "Hello, Grace!")
            // Each call's answer is no longer awaited (the reactor polls for awaited ones).
            #expect(caller.reactor.requestsAwaited == 0)
        }
    }

    @Test func argumentsAndResultsOfManyShapes() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("shapes") { Shapes(actorSystem: $0) }
            try await node.host("greeter") { Greeter(actorSystem: $0) }
        }) { _, caller in
            let shapes = try Shapes.resolve(id: .service("shapes"), using: caller)
            let drawing = Drawing(
                title: "Ünïcode ✓", shapes: [.circle(center: Point(x: 1, y: -2), radius: 3.5), .polygon([]), .empty],
                tags: ["a": 1, "b": -7], thumbnail: Data([0, 1, 255]), createdAt: Date(timeIntervalSince1970: 1_700_000_000.25))
            #expect(try await shapes.echo(drawing) == drawing)
            #expect(try await shapes.optional(21) == 42)
            #expect(try await shapes.optional(nil) == nil)
            #expect(try await shapes.bytes(Data([1, 2]), [3, 4]) == Data([1, 2, 3, 4]))
            try await shapes.nothing()
            #expect(try await shapes.many(-8, .max, 1.5, true, ["x", "y"]) == "-8 18446744073709551615 1.5 true x,y")

            // An actor reference as an argument: the node resolves the service id.
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            #expect(try await shapes.greet(through: greeter, name: "Lin") == "Hello, Lin!")

            // An actor reference as a result: an instance on the node, reachable by id.
            let counter = try await shapes.makeTally()
            #expect(counter.id.instance != nil)
            #expect(try await counter.increment() == 1)
            #expect(try await counter.increment() == 2)
        }
    }

    @Test func argumentsAndResultsThatCannotCrossFailTheCallClearly() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("shapes") { Shapes(actorSystem: $0) }
        }) { _, caller in
            let shapes = try Shapes.resolve(id: .service("shapes"), using: caller)
            #expect(try await shapes.picky(Picky(n: 1)) == Picky(n: 2))

            // An argument that cannot be encoded: refused before anything is sent.
            let unencodable = await #expect(throws: RemoteCallError.self) { try await shapes.picky(Picky(n: -1)) }
            #expect(unencodable?.code == .badArguments)
            #expect(unencodable?.message.contains("could not be encoded") == true, "\(String(describing: unencodable))")

            // A result the caller cannot decode (the method ran once).
            let undecodable = await #expect(throws: RemoteCallError.self) { try await shapes.picky(Picky(n: 12)) }
            #expect(undecodable?.code == .protocolError)
            #expect(undecodable?.message.contains("the result is not a") == true, "\(String(describing: undecodable))")
            #expect(try await shapes.pickyCallCount() == 2)

            // The service still answers.
            #expect(try await shapes.picky(Picky(n: 20)) == Picky(n: 21))
        }
    }

    @Test func concurrentCallsFromManyTasksSpreadOverTheNodes() async throws {
        try await withNodes(3, host: { node, _ in
            try await node.host("greeter", replicas: 2) { Greeter(actorSystem: $0) }
        }) { nodes, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            // Every node answered the caller once (within 20 s) before the burst:
            // a burst over before a node's handshake was done missed it.
            let endpoints = Set(nodes.compactMap(\.endpoint))
            var warm: Set<String> = []
            let warmUntil = ContinuousClock.now + .seconds(20)
            while warm != endpoints && ContinuousClock.now < warmUntil {
                warm.insert(try await greeter.whoAmI())
            }
            #expect(warm == endpoints)
            let answers = try await withThrowingTaskGroup(of: (String, String).self) { group in
                for index in 0..<300 {
                    group.addTask {
                        (try await greeter.hello(name: "n\(index)"), try await greeter.whoAmI())
                    }
                }
                var answers: [(String, String)] = []
                for try await answer in group { answers.append(answer) }
                return answers
            }
            #expect(answers.count == 300)
            #expect(Set(answers.map(\.0)).count == 300)
            let served = Set(answers.map(\.1))
            #expect(served == Set(nodes.compactMap(\.endpoint)))
        }
    }

    @Test func registeredErrorsArriveAsThemselvesOthersAsRemoteApplicationErrors() async throws {
        try await withNodes(1, host: { node, _ in
            node.registerError(Refusal.self)
            try await node.host("worker") { Worker(actorSystem: $0) }
        }) { _, caller in
            caller.registerError(Refusal.self)
            let worker = try Worker.resolve(id: .service("worker"), using: caller)
            await #expect(throws: Refusal(reason: "no")) { try await worker.refuse("no") }
            do {
                _ = try await worker.fail()
                Issue.record("expected an error")
            } catch let error as RemoteCallError {
                #expect(error.code == .remoteApplicationError)
                #expect(error.message.contains("Unregistered"))
                #expect(error.message.contains("an error nobody registered"))
            }
            // An application error is not a node failure: the next call works.
            #expect(try await worker.wait(#function, seconds: 0) == "done")
        }
    }

    @Test func fullQueueAnswersOverloadedAtOnce() async throws {
        let key = "overload-\(UUID())"
        // Deadlines on virtual time: the queued call's second passes when
        // the test moves the clock, after the other call was refused.
        let clock = TestClock()
        try await withNodes(1, queueCapacity: 1, clock: clock, drainGrace: .zero, host: { node, _ in
            try await node.host("worker", replicas: 1) { Worker(actorSystem: $0) }
        }) { _, caller in
            let worker = try Worker.resolve(id: .service("worker"), using: caller)
            // The only replica is busy; of two more calls one fits the queue of
            // one (and its deadline passes there), the other is refused at once.
            let running = Task { try await worker.wait(key, seconds: 30) }
            #expect(await Observations.shared.waitFor(key) { $0 == "started" })
            let codes = await withTaskGroup(of: RemoteCallError.Code?.self) { group in
                for name in ["b", "c"] {
                    group.addTask {
                        do {
                            _ = try await CallOptions.$current.withValue(CallOptions(timeout: .seconds(1))) {
                                try await worker.wait(key + "-" + name, seconds: 0)
                            }
                            return nil
                        } catch let error as RemoteCallError {
                            return error.code
                        } catch {
                            return nil
                        }
                    }
                }
                var codes: [RemoteCallError.Code?] = []
                // The refusal comes first, at once: the queue is full only
                // because the other call waits in it. Then its deadline passes.
                if let first = await group.next() { codes.append(first) }
                clock.advance(by: .seconds(1))
                for await code in group { codes.append(code) }
                return codes
            }
            #expect(codes.contains(.overloaded))
            #expect(codes.contains(.deadlineExceeded))
            // Neither ran: one was refused, the other's deadline passed in the queue.
            #expect(Observations.shared.events(key + "-b").isEmpty)
            #expect(Observations.shared.events(key + "-c").isEmpty)
            running.cancel()
            _ = await running.result
            // Refused, expired, cancelled: none is awaited any more.
            #expect(caller.reactor.requestsAwaited == 0)
        }
    }

    @Test func noNodesWhenNobodyHostsTheService() async throws {
        try await withNodes(0, host: { _, _ in }) { _, caller in
            let greeter = try Greeter.resolve(id: .service("nobody-hosts-this"), using: caller)
            do {
                _ = try await greeter.hello(name: "x")
                Issue.record("expected noNodes")
            } catch let error as RemoteCallError {
                #expect(error.code == .noNodes)
            }
        }
    }

    @Test func aMethodOfAnotherTypeIsAnUnknownTarget() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("greeter") { Greeter(actorSystem: $0) }
        }) { _, caller in
            // A proxy of the wrong type for the service: the node must refuse to
            // run Impostor's method on a Greeter.
            let impostor = try Impostor.resolve(id: .service("greeter"), using: caller)
            do {
                _ = try await impostor.hello(name: "x")
                Issue.record("expected unknownTarget")
            } catch let error as RemoteCallError {
                #expect(error.code == .unknownTarget)
            }
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            #expect(try await greeter.hello(name: "still") == "Hello, still!")
        }
    }

    @Test func localActorsAreCalledDirectly() async throws {
        let system = try CortSystem.start(.init(name: "solo", discovery: LocalDiscovery()))
        let greeter = Greeter(actorSystem: system)
        #expect(__isLocalActor(greeter))
        #expect(try await greeter.hello(name: "me") == "Hello, me!")
        let resolved = try Greeter.resolve(id: greeter.id, using: system)
        #expect(resolved === greeter)
        await system.shutdown()
    }

    /// By default a node's libzmq threads are batch-scheduled and a
    /// caller's are not; either can ask (which threads those are:
    /// ZeroMQContextTests). Each system names its threads apart, so it can
    /// read its own I/O thread's waits for a CPU.
    @Test func aNodesIOThreadsAreBatchScheduledByDefaultAndACallersNot() async throws {
        let node = try CortSystem.start(.init(name: "node", discovery: LocalDiscovery(), endpoint: "tcp://127.0.0.1:0"))
        let caller = try CortSystem.start(.init(name: "caller", discovery: LocalDiscovery()))
        let batchCaller = try CortSystem.start(.init(name: "batch", discovery: LocalDiscovery(), ioThreadScheduling: .batch))
        let inheritedNode = try CortSystem.start(.init(name: "inherited", discovery: LocalDiscovery(),
                                                       endpoint: "tcp://127.0.0.1:0", ioThreadScheduling: .inherited))
        #if os(Linux)
        #expect(node.context.threadScheduling == .batch)
        #expect(batchCaller.context.threadScheduling == .batch)
        #else
        #expect(node.context.threadScheduling == .inherited)
        #expect(batchCaller.context.threadScheduling == .inherited)
        #endif
        #expect(caller.context.threadScheduling == .inherited)
        #expect(inheritedNode.context.threadScheduling == .inherited)
        let systems = [node, caller, batchCaller, inheritedNode]
        let prefixes = systems.compactMap(\.context.threadNamePrefix)
        #expect(prefixes.count == systems.count)
        #expect(Set(prefixes).count == systems.count, "\(prefixes)")
        #if os(Linux)
        // A node's context has its I/O thread from its bound socket on, once
        // the thread has named itself (bounded wait).
        let deadline = ContinuousClock.now + .seconds(10)
        while node.context.ioThreadRunQueueWait() == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(node.context.ioThreadRunQueueWait() != nil)
        #endif
        for system in systems { await system.shutdown() }
    }

    @Test func aNodeThatCannotBeConnectedToIsATransportError() async throws {
        let discovery = LocalDiscovery()
        // An endpoint that discovery accepts and libzmq cannot connect to.
        try await discovery.register(ServiceInstance(service: "broken", id: "broken@x", endpoint: "tcp://127.0.0.1:no-port"))
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery))
        let greeter = try Greeter.resolve(id: .service("broken"), using: caller)
        do {
            _ = try await greeter.hello(name: "x")
            Issue.record("expected transport")
        } catch let error as RemoteCallError {
            #expect(error.code == .transport)
            #expect(error.cause != nil)
        }
        await caller.shutdown()
    }

    @Test func anOversizedRequestFailsOnTheCallerWithoutBeingSent() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host("shapes") { Shapes(actorSystem: $0) }
        }) { nodes, caller in
            let shapes = try Shapes.resolve(id: .service("shapes"), using: caller)
            let huge = Data(count: 5 << 20)
            do {
                _ = try await shapes.bytes(huge, [])
                Issue.record("expected messageTooLarge")
            } catch let error as RemoteCallError {
                #expect(error.code == .messageTooLarge)
            }
            #expect(try await nodes[0].nodeCounters().requests == 0)
            #expect(try await shapes.bytes(Data([1]), [2]) == Data([1, 2]))
        }
    }

    @Test func callsAfterShutdownFailWithShuttingDown() async throws {
        let system = try CortSystem.start(.init(name: "gone", discovery: LocalDiscovery()))
        await system.shutdown()
        let greeter = try Greeter.resolve(id: .service("greeter"), using: system)
        do {
            _ = try await greeter.hello(name: "x")
            Issue.record("expected shuttingDown")
        } catch let error as RemoteCallError {
            #expect(error.code == .shuttingDown)
        }
    }

    @Test func aDrainingNodeFinishesTheCallsItAcceptedAndDeregisters() async throws {
        let key = "drain-\(UUID())"
        let discovery = LocalDiscovery()
        let node = try CortSystem.start(.init(name: "draining", discovery: discovery, endpoint: "tcp://127.0.0.1:0"))
        try await node.host("ledger") { Ledger(actorSystem: $0) }
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(30)))
        let ledger = try Ledger.resolve(id: .service("ledger"), using: caller)
        let endpoint = try #require(node.endpoint)
        let call = Task { try await ledger.holdUntilReleased(key) }
        #expect(await Observations.shared.waitFor(key) { $0.hasPrefix("started") })
        let draining = Task { await node.shutdown() }
        // The service leaves discovery first; the call in flight is still
        // running, and finishes once released.
        let deregistered = await within(.seconds(30)) {
            var nodes = discovery.watch(service: "ledger").makeAsyncIterator()
            while let listed = try await nodes.next() {
                if listed.isEmpty { return true }
            }
            return false
        }
        #expect(deregistered == true, "the draining node left discovery")
        #expect(Observations.shared.events(key) == ["started@\(endpoint)"])
        Observations.shared.release(key)
        #expect(try await call.value == endpoint)
        await draining.value
        await caller.shutdown()
    }

    @Test func anInstanceThatMovesToAnotherEndpointIsFollowed() async throws {
        let discovery = LocalDiscovery()
        var nodes: [CortSystem] = []
        for index in 0..<2 {
            let node = try CortSystem.start(.init(
                name: "mover-\(index)", discovery: StaticDiscovery([:]), endpoint: "tcp://127.0.0.1:0"))
            try await node.host("greeter") { Greeter(actorSystem: $0) }
            nodes.append(node)
        }
        let (first, second) = (try #require(nodes[0].endpoint), try #require(nodes[1].endpoint))
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(30)))
        let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)

        try await discovery.register(ServiceInstance(service: "greeter", id: "greeter@moving", endpoint: first))
        #expect(try await greeter.whoAmI() == first)
        // The same instance id, now at another endpoint: calls must follow it.
        try await discovery.register(ServiceInstance(service: "greeter", id: "greeter@moving", endpoint: second))
        let deadline = ContinuousClock.now + .seconds(30)
        var servedBy = first
        while servedBy != second, ContinuousClock.now < deadline {
            servedBy = try await greeter.whoAmI()
        }
        #expect(servedBy == second)

        await caller.shutdown()
        for node in nodes { await node.shutdown() }
    }
}

