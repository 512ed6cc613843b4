import CortZeroMQ

/// The sizes the transport benchmarks share with their C baseline.
public enum PingPongDefaults {
    /// Bytes per request and per reply: about a small call envelope.
    public static let payloadSize = 64
    /// Requests in flight for the windowed workloads.
    public static let window = 64
}

/// A DEALER and a ROUTER, both on one reactor, bouncing a message over
/// tcp://127.0.0.1: the reactor's counterpart of ``CEcho``.
public actor ReactorPingPong {
    private let reactor: ZeroMQReactor
    private let dealer: ZeroMQSocket
    private let router: ZeroMQSocket
    private let payload: [UInt8]

    public nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }

    private init(reactor: ZeroMQReactor, context: ZeroMQContext, payloadSize: Int) throws {
        self.reactor = reactor
        router = try ZeroMQSocket(.router, context: context, reactor: reactor)
        try router.set(.routerMandatory, true)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        dealer = try ZeroMQSocket(.dealer, context: context, reactor: reactor)
        try dealer.connect(endpoint)
        payload = [UInt8](repeating: 0x5a, count: payloadSize)
    }

    /// Starts a reactor of its own and connects the two sockets.
    public static func start(payloadSize: Int) async throws -> ReactorPingPong {
        let reactor = try ZeroMQReactor.start(name: "bench-reactor")
        return try ReactorPingPong(reactor: reactor, context: try ZeroMQContext(), payloadSize: payloadSize)
    }

    /// `count` round trips, one in flight: DEALER -> ROUTER -> DEALER.
    public func roundTrips(_ count: Int) async throws {
        for _ in 0..<count {
            try await dealer.send(ZeroMQMessage([payload]))
            let request = try await router.receive()
            try await router.send(request)
            _ = try await dealer.receive()
        }
    }

    /// `count` round trips with up to `window` in flight: the one thread sends
    /// a window, echoes it and takes the replies in, batch after batch.
    public func windowed(_ count: Int, window: Int) async throws {
        var sent = 0
        var echoed = 0
        var received = 0
        while received < count {
            while sent < count, sent - received < window {
                try await dealer.send(ZeroMQMessage([payload]))
                sent += 1
            }
            while echoed < sent {
                let request = try await router.receive()
                try await router.send(request)
                echoed += 1
            }
            while received < echoed {
                _ = try await dealer.receive()
                received += 1
            }
        }
    }

    /// Stops the reactor; the sockets close when the actor goes away.
    public func stop() {
        reactor.shutdown()
    }
}
