import Synchronization
import Testing
@testable import CortZeroMQ

/// A unique inproc endpoint per call: tests run in parallel in one process.
func uniqueInproc(_ label: String = #function) -> String {
    "inproc://\(label.prefix { $0 != "(" })-\(UInt64.random(in: 0...UInt64.max))"
}

/// Blocking helper for tests: waits for a message for at most `timeout`.
/// (A bounded wait for the event itself, not a sleep.)
func receive(_ socket: ZeroMQSocket, within timeout: Duration = .seconds(5)) throws -> ZeroMQMessage? {
    guard try socket.poll(.readable, timeout: timeout).contains(.readable) else { return nil }
    return try socket.tryReceive()
}

/// The frames of the next message, or nil if none arrives within `timeout`.
func receiveFrames(_ socket: ZeroMQSocket, within timeout: Duration = .seconds(5)) throws -> [[UInt8]]? {
    guard let message = try receive(socket, within: timeout) else { return nil }
    return message.copyFrames()
}

/// Sends from a ROUTER until the peer's handshake is done (hostUnreachable before),
/// waiting on the peer socket between attempts. Bounded.
func sendWhenRoutable(_ router: ZeroMQSocket, _ frames: [[UInt8]], peer: ZeroMQSocket) throws {
    var message = ZeroMQMessage(frames)
    for _ in 0..<500 {
        do {
            if try router.trySend(&message) { return }
        } catch let error as ZeroMQError where error.code == .hostUnreachable {
            _ = try peer.poll(.readable, timeout: .milliseconds(10))
        }
    }
    Issue.record("peer never became routable")
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// Waits at most `timeout` for `descriptor` to be readable, in poll(2).
func waitUntilReadable(_ descriptor: Int32, within timeout: Duration) -> Bool {
    var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
    let milliseconds = Int32(clamping: timeout.components.seconds * 1_000)
    while true {
        let result = poll(&entry, 1, milliseconds)
        if result >= 0 || errno != EINTR { return result > 0 }
    }
}

/// An actor running on a reactor, owning the sockets it creates.
actor ReactorActor {
    let reactor: ZeroMQReactor
    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }
    private var sockets: [String: ZeroMQSocket] = [:]

    init(reactor: ZeroMQReactor) { self.reactor = reactor }

    func open(_ name: String, _ kind: ZeroMQSocket.Kind, context: ZeroMQContext,
              bind: String? = nil, connect: String? = nil, routingID: [UInt8]? = nil,
              sendHighWaterMark: Int32? = nil) throws -> String? {
        let socket = try ZeroMQSocket(kind, context: context, reactor: reactor)
        if let sendHighWaterMark { try socket.set(.sendHighWaterMark, sendHighWaterMark) }
        if kind == .router { try socket.set(.routerMandatory, true) }
        if let routingID { try socket.set(.routingID, routingID) }
        var endpoint: String?
        if let bind { endpoint = try socket.bind(bind) }
        if let connect { try socket.connect(connect) }
        sockets[name] = socket
        return endpoint
    }

    func socket(_ name: String) -> ZeroMQSocket { sockets[name]! }

    /// Echoes `count` messages on a ROUTER (or any socket).
    func echo(_ name: String, count: Int) async throws {
        let socket = sockets[name]!
        for _ in 0..<count {
            let message = try await socket.receive()
            try await socket.send(message)
        }
    }

    /// Sends and awaits a reply `count` times; returns how many replies matched.
    func pingPong(_ name: String, count: Int) async throws -> Int {
        let socket = sockets[name]!
        var matched = 0
        for index in 0..<count {
            let payload = withUnsafeBytes(of: UInt32(index).littleEndian) { Array($0) }
            try await socket.send(ZeroMQMessage([payload, bytes("ping")]))
            let reply = try await socket.receive()
            if reply.count == 2, reply.frame(at: 0) == payload { matched += 1 }
        }
        return matched
    }

    /// Receives `count` messages and returns their first frames.
    func receiveMany(_ name: String, count: Int) async throws -> [[UInt8]] {
        let socket = sockets[name]!
        var frames: [[UInt8]] = []
        for _ in 0..<count {
            var message = try await socket.receive()
            frames.append(message.count > 1 ? { _ = message.removeFirst(); return message.frame(at: 0) }() : message.frame(at: 0))
        }
        return frames
    }

    /// Sends `count` one-frame messages ("0", "1", ...), prefixed by `prefix` frames.
    func sendMany(_ name: String, count: Int, prefix: [[UInt8]] = []) async throws {
        let socket = sockets[name]!
        for index in 0..<count {
            try await socket.send(ZeroMQMessage(prefix + [bytes("\(index)")]))
        }
    }

    func receiveOne(_ name: String) async throws -> [[UInt8]] {
        try await sockets[name]!.receive().copyFrames()
    }

    func isOnReactor() -> Bool { reactor.isOnReactorThread }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

enum ProcessInfoLite {
    static func environment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }
}
