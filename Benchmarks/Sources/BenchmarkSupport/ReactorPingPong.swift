import CortZeroMQ

/// The sizes the transport benchmarks share with their C baseline.
public enum PingPongDefaults {
    /// Bytes per request and per reply: about a small call envelope.
    public static let payloadSize = 64
    /// Requests in flight for the windowed workloads.
    public static let window = 64
}

/// The reactor's counterpart of ``CEcho``, with the same threads: a ROUTER
/// echo actor on one reactor and a DEALER actor on another, over
/// tcp://127.0.0.1, sharing one libzmq context (one I/O thread).
public final class ReactorPingPong: Sendable {
    private let clientReactor: ZeroMQReactor
    private let serverReactor: ZeroMQReactor
    private let client: PingClient
    private let server: EchoServer
    private let serving: Task<Void, any Error>

    private init(payloadSize: Int, perMessageTask: Bool) throws {
        let context = try ZeroMQContext()
        serverReactor = try ZeroMQReactor.start(name: "bench-server")
        clientReactor = try ZeroMQReactor.start(name: "bench-client")
        server = try EchoServer(context: context, reactor: serverReactor, perMessageTask: perMessageTask)
        client = try PingClient(context: context, reactor: clientReactor, endpoint: server.endpoint, payloadSize: payloadSize)
        serving = Task { [server] in try await server.run() }
    }

    /// Starts both reactors and connects the sockets. With `perMessageTask`
    /// the echo side runs each message as a node that ran every call in one
    /// job would: a `Task.immediate` on its reactor that awaits a method of
    /// a default actor (a replica) and sends its result back through the
    /// socket's actor (an experiment: what such a call path costs over the
    /// bare transport).
    public static func start(payloadSize: Int, perMessageTask: Bool = false) async throws -> ReactorPingPong {
        try ReactorPingPong(payloadSize: payloadSize, perMessageTask: perMessageTask)
    }

    /// `count` round trips, one in flight.
    public func roundTrips(_ count: Int) async throws {
        try await client.roundTrips(count)
    }

    /// `count` round trips with up to `window` in flight.
    public func windowed(_ count: Int, window: Int) async throws {
        try await client.windowed(count, window: window)
    }

    /// Stops the echo and both reactors.
    public func stop() async {
        serving.cancel()
        _ = await serving.result
        clientReactor.shutdown()
        serverReactor.shutdown()
    }
}

/// Echoes every message back to its sender, on its reactor.
actor EchoServer {
    private let reactor: ZeroMQReactor
    private let router: ZeroMQSocket
    private let perMessageTask: Bool
    private let replica = EchoReplica()
    let endpoint: String
    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }

    init(context: ZeroMQContext, reactor: ZeroMQReactor, perMessageTask: Bool = false) throws {
        self.reactor = reactor
        self.perMessageTask = perMessageTask
        router = try ZeroMQSocket(.router, context: context, reactor: reactor)
        try router.set(.routerMandatory, true)
        endpoint = try router.bind("tcp://127.0.0.1:*")
    }

    func run() async throws {
        while !Task.isCancelled {
            let request = try await router.receive()
            guard perMessageTask else {
                try await router.send(request)
                continue
            }
            let frames = request.copyFrames()
            let replica = self.replica
            Task.immediate(executorPreference: reactor.taskExecutor) {
                let reply = await replica.echo(frames[1])
                self.answer([frames[0], reply])
            }
        }
    }

    private func answer(_ frames: [[UInt8]]) {
        _ = try? router.trySend(ZeroMQMessage(frames))
    }
}

/// A replica's method, on a default actor (it runs where its caller's task prefers).
actor EchoReplica {
    func echo(_ bytes: [UInt8]) -> [UInt8] { bytes }
}

/// Sends requests and takes replies in, on its reactor.
actor PingClient {
    private let reactor: ZeroMQReactor
    private let dealer: ZeroMQSocket
    private let payload: [UInt8]
    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }

    init(context: ZeroMQContext, reactor: ZeroMQReactor, endpoint: String, payloadSize: Int) throws {
        self.reactor = reactor
        dealer = try ZeroMQSocket(.dealer, context: context, reactor: reactor)
        try dealer.connect(endpoint)
        payload = [UInt8](repeating: 0x5a, count: payloadSize)
    }

    func roundTrips(_ count: Int) async throws {
        for _ in 0..<count {
            try await dealer.send(ZeroMQMessage([payload]))
            _ = try await dealer.receive()
        }
    }

    func windowed(_ count: Int, window: Int) async throws {
        var sent = 0
        var received = 0
        while received < count {
            while sent < count, sent - received < window {
                try await dealer.send(ZeroMQMessage([payload]))
                sent += 1
            }
            _ = try await dealer.receive()
            received += 1
        }
    }
}
