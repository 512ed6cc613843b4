import CortMessagePack
import Foundation
import Synchronization
import Testing
@testable import Cort
#if canImport(Glibc)
import Glibc
#endif

/// A caller that goes silent without closing its connection (a frozen
/// process, a cut cable: no FIN, no RST) is found by the heartbeats libzmq
/// sends on the node's connections, and its calls are stopped. The caller
/// here is a raw TCP socket speaking ZMTP 3.1 by hand, so it can do what no
/// libzmq peer does: never answer a PING.
@Suite struct SilentCallerTests {
    @Test func aCallerThatStopsAnsweringHeartbeatsHasItsCallsStopped() async throws {
        let wait = try await CapturedRequests.request(Worker.self) { _ = try await $0.wait("x", seconds: 30) }
        let discovery = LocalDiscovery()
        let heartbeat = HeartbeatConfiguration(interval: .milliseconds(100), liveness: 3)
        let node = try CortSystem.start(.init(name: "silent-target", discovery: discovery, endpoint: "tcp://127.0.0.1:0",
                                              heartbeat: heartbeat))
        try await node.host("worker", replicas: 2) { Worker(actorSystem: $0) }
        let endpoint = try #require(node.endpoint)
        let port = try #require(UInt16(endpoint.split(separator: ":").last ?? ""))
        let key = "silent-\(UUID())"
        var request = wait
        request.id = 1
        request.service = "worker"
        request.timeout = .seconds(60)
        request.arguments[0] = try MessagePackEncoder().encode(key)
        let frame = RawCaller.encode(.request(request))

        let client = try RawZMTPClient(port: port, identity: "silent-caller")
        // On a thread of its own from the first byte (a loaded machine may
        // leave a task unscheduled for longer than the heartbeat timeout): it
        // greets, sends the call, and answers the node's pings until the call
        // has started (which may also take longer than 300 ms), then goes silent.
        let started = ManagedAtomicFlag()
        let outcome = Mutex<Result<Int, any Error>?>(nil)
        let ended = ThreadEnd()
        Thread.detachNewThread {
            let result = Result { () throws -> Int in
                try client.handshakeAndSend(frame)
                return try client.answerPings(until: started)
            }
            outcome.withLock { $0 = result }
            ended.finish()
        }
        #expect(await Observations.shared.waitFor(key, timeout: .seconds(60)) { $0 == "started" })
        started.set()
        await ended.wait()
        let pongs = try #require(outcome.withLock { $0 }).get()
        // From now on it reads nothing and writes nothing, and keeps the socket open.
        let silentSince = ContinuousClock.now
        #expect(await Observations.shared.waitFor(key, timeout: .seconds(30)) { $0 == "cancelled" },
                "the node stopped the call of a caller that stopped answering its heartbeats")
        let detected = ContinuousClock.now - silentSince
        #expect(try await node.nodeCounters().departedCallers == 1)
        print("FIGURE silentCaller.callCancelledAfter=\(detected) (heartbeat timeout \(heartbeat.deadAfter), \(pongs) pongs before)")
        client.close()
        await node.shutdown()
    }
}

/// A TCP client that speaks just enough ZMTP 3.1 (NULL mechanism) to send
/// one message as a DEALER, then nothing: no reads, no PONGs.
final class RawZMTPClient: @unchecked Sendable {
    // @unchecked: the descriptor is used by one thread at a time.
    private var descriptor: Int32

    init(port: UInt16, identity: String) throws {
        self.identity = Array(identity.utf8)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw ZMTPClientError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            Glibc.close(descriptor)
            throw ZMTPClientError("connect: errno \(errno)")
        }
        self.descriptor = descriptor
    }

    private let identity: [UInt8]

    /// Greets, reads the node's greeting and READY, says READY as a DEALER, sends `message`.
    func handshakeAndSend(_ message: [UInt8]) throws {
        var greeting: [UInt8] = [0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0x03, 0x01]
        greeting += Array("NULL".utf8) + [UInt8](repeating: 0, count: 16)
        greeting += [0x00] + [UInt8](repeating: 0, count: 31)
        try write(greeting)
        _ = try read(64)
        var body: [UInt8] = [0x05] + Array("READY".utf8)
        body += Self.property("Socket-Type", Array("DEALER".utf8))
        body += Self.property("Identity", identity)
        try write([0x04, UInt8(body.count)] + body)
        // The node's READY: a short command frame.
        let header = try read(2)
        _ = try read(Int(header[1]))
        if message.count < 256 {
            try write([0x00, UInt8(message.count)] + message)
        } else {
            try write([0x02] + withUnsafeBytes(of: UInt64(message.count).bigEndian) { Array($0) } + message)
        }
    }

    /// Answers every PING command with a PONG until `stop` is set, reading
    /// nothing else the node sends; returns how many it answered.
    func answerPings(until stop: ManagedAtomicFlag) throws -> Int {
        var answered = 0
        while !stop.isSet {
            var descriptor = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 20) > 0 else { continue }
            let flags = try read(1)[0]
            let size = flags & 0x02 != 0
                ? Int(try read(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
                : Int(try read(1)[0])
            let body = try read(size)
            // A command: a name length, the name, then for PING a 2-byte TTL and a context.
            guard flags & 0x04 != 0, body.count >= 7, Array(body[0..<5]) == [0x04] + Array("PING".utf8) else { continue }
            let pong = [0x04] + Array("PONG".utf8) + Array(body[7...])
            try write([0x04, UInt8(pong.count)] + pong)
            answered += 1
        }
        return answered
    }

    func close() {
        if descriptor >= 0 { Glibc.close(descriptor) }
        descriptor = -1
    }

    deinit { close() }

    private static func property(_ name: String, _ value: [UInt8]) -> [UInt8] {
        [UInt8(name.utf8.count)] + Array(name.utf8) + withUnsafeBytes(of: UInt32(value.count).bigEndian) { Array($0) } + value
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            // MSG_NOSIGNAL: a node that dropped the connection is an error, not a SIGPIPE.
            let count = bytes[sent...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard count > 0 else { throw ZMTPClientError("send: errno \(errno)") }
            sent += count
        }
    }

    private func read(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var received = 0
        while received < count {
            let got = bytes[received...].withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            guard got > 0 else { throw ZMTPClientError("recv: \(got == 0 ? "closed" : "errno \(errno)")") }
            received += got
        }
        return bytes
    }
}

struct ZMTPClientError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
