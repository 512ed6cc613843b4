#if ConsulAgentDouble
internal import FlyingFox
internal import FlyingSocks
import Logging
import Synchronization
#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// A Consul agent for tests: a real HTTP server on 127.0.0.1 (an ephemeral
/// port) that answers the part of Consul's HTTP API cort uses, the way a real
/// agent does (`consul-api.md`): registration with its validation and
/// defaults, TTL checks and their expiry, the reaper, health and catalog
/// queries with blocking, ACL tokens. Faults can be switched on (an agent
/// restart, an index that goes back, no leader, 429, slow answers, an
/// unreachable agent), and everything timed runs on the clock it is given.
///
/// ```swift
/// let clock = TestClock()
/// let consul = try await ConsulAgentDouble.start(clock: clock)
/// defer { Task { await consul.stop() } }
/// setenv("CONSUL_HTTP_ADDR", consul.address, 1)       // "127.0.0.1:54321"
/// // … the code under test registers "greeter" with a 10s TTL check …
/// clock.advance(by: .seconds(11))
/// #expect(consul.check("service:greeter")?.output == "TTL expired")
/// ```
///
/// It is `Sendable`: its state sits behind one `Mutex`, and the HTTP server
/// and timers only reach it through that lock.
public final class ConsulAgentDouble: Sendable {
    /// What a test reads and changes, under one lock.
    struct Core: ~Copyable {
        var state: ConsulAgentState
        var faults = Faults()
        var requests: [RecordedRequest] = []
        /// Parked blocking queries by waiter ID.
        var continuations: [UInt64: CheckedContinuation<Void, Never>] = [:]
        /// Waiters whose task was cancelled before they parked.
        var cancelledWaiters: Set<UInt64> = []
        var nextWaiterID: UInt64 = 0
        var blockedCountWaiters: [UInt64: (count: Int, continuation: CheckedContinuation<Void, Never>)] = [:]
        var timer: (deadline: Duration, task: Task<Void, Never>)?
        var listener: Listener?
        /// While unreachable, a socket bound to the port and not listening
        /// (see ``holdPort(_:)``).
        var portHold: Int32?
        var stopped = false
        /// How many requests were ever recorded (the log keeps the latest).
        var requestSequence = 0
    }

    /// Faults that change how requests are answered.
    struct Faults: Sendable {
        /// The token ACLs require; nil: ACLs off. Starts as the configuration's.
        var aclToken: String?
        var noLeader = false
        var rateLimited = false
        var delay: Duration = .zero
    }

    /// The running HTTP server; replaced when the agent comes back.
    struct Listener: Sendable {
        let server: HTTPServer
        let task: Task<Void, any Error>
    }

    let core: Mutex<Core>
    let clock: ElapsedClock
    let configuration: Configuration
    let handlerBox: HandlerBox
    /// The port, the same for the double's whole life (it comes back on it).
    public let port: UInt16

    /// `127.0.0.1:<port>`: what `CONSUL_HTTP_ADDR` should say.
    public var address: String { "127.0.0.1:\(port)" }

    private init(clock: ElapsedClock, configuration: Configuration, port: UInt16, listener: Listener, handlerBox: HandlerBox) {
        var stateConfiguration = ConsulAgentState.Configuration()
        stateConfiguration.node = configuration.node
        core = Mutex(Core(state: ConsulAgentState(configuration: stateConfiguration),
                          faults: Faults(aclToken: configuration.aclToken), listener: listener))
        self.clock = clock
        self.configuration = configuration
        self.port = port
        self.handlerBox = handlerBox
    }

    /// Starts a double listening on 127.0.0.1 on a free port.
    ///
    /// - Parameters:
    ///   - clock: what TTLs, the reaper, blocking waits and answer delays
    ///     read; a ``TestClock`` puts them on virtual time.
    ///   - configuration: ACL token, node, jitter and limits.
    /// - Throws: ``ConsulAgentDoubleError`` with code `listenFailed`.
    public static func start(
        clock: some Clock<Duration> = ContinuousClock(),
        configuration: Configuration = Configuration()
    ) async throws -> ConsulAgentDouble {
        let handler = HandlerBox()
        let listener = try await listen(port: configuration.port, handler: handler)
        guard case .ip4(_, let port)? = await listener.server.listeningAddress else {
            await listener.server.stop(timeout: 0)
            throw ConsulAgentDoubleError(code: .listenFailed, message: "the server has no IPv4 address")
        }
        let double = ConsulAgentDouble(clock: ElapsedClock(clock), configuration: configuration,
                                       port: port, listener: listener, handlerBox: handler)
        handler.double.withLock { $0 = double }
        configuration.logger.debug("consul double listening", metadata: ["address": "\(double.address)"])
        return double
    }

    /// Stops the double for good: the listener closes, open connections and
    /// parked queries end without an answer, timers stop.
    public func stop() async {
        let (listener, timer, hold) = core.withLock { core in
            core.stopped = true
            defer { core.listener = nil; core.timer = nil; core.portHold = nil }
            return (core.listener, core.timer?.task, core.portHold)
        }
        timer?.cancel()
        if let hold { Self.releasePort(hold) }
        await listener?.close()
    }

    // MARK: Listening

    /// Lets the server's handler reach the double, which exists only once
    /// the server listens (its port is part of it).
    final class HandlerBox: Sendable {
        let double = Mutex<ConsulAgentDouble?>(nil)
    }

    /// A socket bound to 127.0.0.1:`port` and not listening, so that the
    /// port stays the double's while it is unreachable: connections to it
    /// are refused as before, and the kernel does not hand it to another
    /// socket's outgoing connection (seen once in a full test run:
    /// ``comeBack()`` then could not bind it again). Nil if it cannot be bound.
    static func holdPort(_ port: UInt16) -> Int32? {
        // The address the listener binds (see listen(port:handler:)).
        guard var address = try? sockaddr_in.inet(ip4: "127.0.0.1", port: port) else { return nil }
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var one: Int32 = 1
        _ = setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    /// Lets go of a port ``holdPort(_:)`` held.
    static func releasePort(_ hold: Int32) {
        close(hold)
    }

    static func listen(port: UInt16, handler: HandlerBox) async throws -> Listener {
        let address: sockaddr_in
        do {
            address = try .inet(ip4: "127.0.0.1", port: port)
        } catch {
            throw ConsulAgentDoubleError(code: .listenFailed, message: "cannot make 127.0.0.1:\(port)", cause: error)
        }
        // Blocking queries hold a request for up to ~10m40s of the double's
        // clock: the server's own handler timeout must never cut them.
        let configuration = HTTPServer.Configuration(address: address, timeout: 24 * 3600, logger: .disabled)
        let server = HTTPServer(config: configuration)
        await server.appendRoute("*") { request in
            guard let double = handler.double.withLock({ $0 }) else { return HTTPResponse(statusCode: .serviceUnavailable) }
            return await double.handle(request)
        }
        // Either the server listens, or `run()` ends first (a failed bind);
        // whichever comes first answers. (`run()` only returns when stopped.)
        let pending = PendingStart()
        let task = Task {
            do {
                try await server.run()
                pending.continuation.withLock { $0.take() }?.resume(throwing: ConsulAgentDoubleError(code: .listenFailed, message: "the server stopped"))
            } catch {
                pending.continuation.withLock { $0.take() }?.resume(throwing: error)
                throw error
            }
        }
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                pending.continuation.withLock { $0 = continuation }
                Task {
                    do {
                        try await server.waitUntilListening(timeout: 10)
                        pending.continuation.withLock { $0.take() }?.resume()
                    } catch {
                        pending.continuation.withLock { $0.take() }?.resume(throwing: error)
                    }
                }
            }
        } catch {
            task.cancel()
            throw ConsulAgentDoubleError(code: .listenFailed, message: "cannot listen on 127.0.0.1:\(port)", cause: error)
        }
        return Listener(server: server, task: task)
    }
}

/// The one continuation that learns whether a server started.
private final class PendingStart: Sendable {
    let continuation = Mutex<CheckedContinuation<Void, any Error>?>(nil)
}

extension ConsulAgentDouble.Listener {
    /// Closes the listener and every connection; requests in flight are
    /// cancelled and their connections closed without an answer.
    func close() async {
        await server.stop(timeout: 0)
        task.cancel()
        _ = await task.result
    }
}

#else

/// Stands in for the Consul agent double when cort's `ConsulAgentDouble`
/// trait is off (a package that depends on cort with `traits: []`): the
/// double runs on FlyingFox, which SwiftPM then does not resolve. What a test
/// reaches for first is here, so the compiler says why it is missing.
@available(*, unavailable, message: "ConsulAgentDouble needs cort's ConsulAgentDouble trait (on by default): drop `traits: []` from the cort dependency, or list \"ConsulAgentDouble\" in it")
public enum ConsulAgentDouble {
    @available(*, unavailable, message: "ConsulAgentDouble needs cort's ConsulAgentDouble trait (on by default): drop `traits: []` from the cort dependency, or list \"ConsulAgentDouble\" in it")
    public struct Configuration {
        public init() {}
    }

    @available(*, unavailable, message: "ConsulAgentDouble needs cort's ConsulAgentDouble trait (on by default): drop `traits: []` from the cort dependency, or list \"ConsulAgentDouble\" in it")
    public static func start(
        clock: some Clock<Duration> = ContinuousClock(),
        configuration: Configuration = Configuration()
    ) async throws -> ConsulAgentDouble {
        fatalError("unavailable")
    }
}
#endif
