import Testing
@testable import CortZeroMQ

/// A default actor (on the global pool) that owns its sockets and waits for
/// them through a reactor that only polls their descriptors.
private actor PoolOwner {
    let socket: ZeroMQSocket
    /// Where it is bound, resolved (the port for `*`).
    nonisolated let endpoint: String?

    init(_ kind: ZeroMQSocket.Kind, context: ZeroMQContext, reactor: ZeroMQReactor,
         bind: String? = nil, connect: String? = nil) throws {
        let socket = try ZeroMQSocket(kind, context: context, reactor: reactor)
        endpoint = try bind.map { try socket.bind($0) }
        if let connect { try socket.connect(connect) }
        self.socket = socket
    }

    /// Echoes `count` messages back to their senders.
    func echo(count: Int) async throws {
        for _ in 0..<count {
            var message = try await socket.receiveOffReactor()
            guard try socket.trySend(&message) else { throw ZeroMQError(.wouldBlock, "echo: pipe full") }
        }
    }

    /// Sends `count` requests one at a time; returns how many came back as sent.
    func pingPong(count: Int) async throws -> Int {
        var matched = 0
        for index in 0..<count {
            var request = ZeroMQMessage([bytes("\(index)")])
            guard try socket.trySend(&request) else { throw ZeroMQError(.wouldBlock, "ping: pipe full") }
            let reply = try await socket.receiveOffReactor()
            if reply.copyFrames() == [bytes("\(index)")] { matched += 1 }
        }
        return matched
    }

    func receive() async throws -> ZeroMQMessage {
        try await socket.receiveOffReactor()
    }

    func readiness() throws -> ZeroMQSocket.Events {
        try socket.readiness()
    }
}

@Suite struct ZeroMQSocketOffReactorTests {
    /// Both ends on the global pool, over TCP on loopback: each reply wakes
    /// its receiver through the descriptor the reactor polls.
    @Test func actorsOnTheGlobalPoolExchangeMessagesThroughTheReactorsPoll() async throws {
        let reactor = try ZeroMQReactor.start()
        defer { reactor.shutdown() }
        let context = try ZeroMQContext()
        let server = try PoolOwner(.router, context: context, reactor: reactor, bind: "tcp://127.0.0.1:*")
        let endpoint = try #require(server.endpoint)
        let client = try PoolOwner(.dealer, context: context, reactor: reactor, connect: endpoint)
        let count = 2000
        async let served: Void = server.echo(count: count)
        let matched = try await client.pingPong(count: count)
        try await served
        #expect(matched == count)
    }

    @Test func readinessSaysWhetherAMessageWaits() async throws {
        let reactor = try ZeroMQReactor.start()
        defer { reactor.shutdown() }
        let context = try ZeroMQContext()
        let endpoint = uniqueInproc()
        let owner = try PoolOwner(.pair, context: context, reactor: reactor, bind: endpoint)
        let peer = try ZeroMQSocket(.pair, context: context)
        try peer.connect(endpoint)
        #expect(try await !owner.readiness().contains(.readable))
        #expect(try peer.trySend(ZeroMQMessage([bytes("hello")])) == nil)
        // inproc delivers at once; a bounded look, not a sleep.
        var readable = false
        for _ in 0..<1000 where !readable {
            readable = try await owner.readiness().contains(.readable)
            if !readable { await Task.yield() }
        }
        #expect(readable)
        #expect(try await owner.receive().copyFrames() == [bytes("hello")])
        #expect(try await !owner.readiness().contains(.readable))
    }

    @Test func aWaitOffTheReactorEndsWhenItsTaskIsCancelled() async throws {
        let reactor = try ZeroMQReactor.start()
        defer { reactor.shutdown() }
        let context = try ZeroMQContext()
        let owner = try PoolOwner(.pair, context: context, reactor: reactor, bind: uniqueInproc())
        let waiting = Task { _ = try await owner.receive() }
        // The wait is registered with the reactor (or about to be): cancel it.
        waiting.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiting.value }
    }

    @Test func aWaitOffTheReactorEndsWhenTheReactorShutsDown() async throws {
        let reactor = try ZeroMQReactor.start()
        let context = try ZeroMQContext()
        let owner = try PoolOwner(.pair, context: context, reactor: reactor, bind: uniqueInproc())
        let waiting = Task { _ = try await owner.receive() }
        // Bounded: the wait is registered once the reactor has a waiter.
        for _ in 0..<10_000 where await reactor.waiterCount() == 0 { await Task.yield() }
        #expect(await reactor.waiterCount() == 1)
        await reactor.stop()
        let error = await #expect(throws: ZeroMQError.self) { _ = try await waiting.value }
        #expect(error?.code == .reactorShutDown)
    }

    @Test func theDescriptorAndEventsOptionsAreReadOnly() throws {
        let context = try ZeroMQContext()
        let socket = try ZeroMQSocket(.dealer, context: context)
        #expect(try socket.get(.descriptor) >= 0)
        let error = #expect(throws: ZeroMQError.self) { try socket.set(.events, 1) }
        #expect(error?.code == .invalid)
    }
}
