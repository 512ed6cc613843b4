import Cort
import Distributed
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What crosses the wire between a caller and a node, captured by a TCP
/// relay between them: with CURVE, neither the payload nor the service's
/// name, type or method can be read in it; in plaintext (the control that
/// proves the capture works) they all can.
@Suite(.timeLimit(.minutes(2))) struct WireEncryptionTests {
    static let service = "wire-secret-echo"
    /// The names a reader of the wire would learn the call by.
    static let names = [service, "WireSecretEcho", "mirrorCanary"]

    /// One call of `WireSecretEcho.mirrorCanary(_:)` with `canary`, from a
    /// caller whose only endpoint is the relay in front of the node; returns
    /// the answer and what the relay saw. Everything is shut down and the
    /// relay's threads have ended when it returns, whatever happened.
    static func relayedCall(_ canary: String, curve: Bool) async throws -> (answer: String, capture: RecordingRelay.Capture) {
        let nodeKeys = try CurveKeyPair.generate()
        let callerKeys = try CurveKeyPair.generate()
        let node = try CortSystem.start(.init(
            name: "cipher-node", discovery: try StaticDiscovery([:]), endpoint: "tcp://127.0.0.1:0",
            security: curve ? .curve(keyPair: nodeKeys, allowedCallers: CallerAllowList([callerKeys.publicKey])) : .plaintext))
        let relay: RecordingRelay
        do {
            try await node.host(service, replicas: 1) { WireSecretEcho(actorSystem: $0) }
            relay = try RecordingRelay.start(forwardingTo: try #require(port(of: node.endpoint)))
        } catch {
            await node.shutdown()
            throw error
        }
        let answer: Result<String, any Error>
        do {
            let entry = "tcp://127.0.0.1:\(relay.port)" + (curve ? "|\(nodeKeys.publicKey.z85)" : "")
            let caller = try CortSystem.start(.init(
                name: "cipher-caller", discovery: try StaticDiscovery([service: [entry]]), defaultTimeout: .seconds(30),
                security: curve ? .curve(keyPair: callerKeys) : .plaintext))
            do {
                answer = .success(try await WireSecretEcho.resolve(id: .service(service), using: caller).mirrorCanary(canary))
            } catch {
                answer = .failure(error)
            }
            await caller.shutdown()
        } catch {
            answer = .failure(error)
        }
        await node.shutdown()
        let capture = await relay.stop()
        return (try answer.get(), capture)
    }

    static func port(of endpoint: String?) -> UInt16? {
        endpoint?.split(separator: ":").last.flatMap { UInt16($0) }
    }

    @Test func withCurveTheWireCarriesNeitherThePayloadNorTheNames() async throws {
        let canary = "cort-plaintext-canary-" + UUID().uuidString
        let (answer, capture) = try await Self.relayedCall(canary, curve: true)
        #expect(answer == canary, "the call went through the relay and came back")
        #expect(capture.connections >= 1)
        // The capture holds the ZMTP streams: the greetings name the
        // mechanism in clear, and the call's frames follow.
        for (direction, bytes) in capture.directions {
            #expect(bytes.count > 200, "\(direction): \(bytes.count) bytes")
            #expect(bytes.contains(subsequence: "CURVE"), "\(direction): the ZMTP greeting was captured")
            #expect(!bytes.contains(subsequence: canary), "\(direction) carries the payload in clear")
            for name in Self.names {
                #expect(!bytes.contains(subsequence: name), "\(direction) carries \(name) in clear")
            }
        }
    }

    /// The control: the same capture of a plaintext call has it all.
    @Test func inPlaintextTheSameCaptureShowsThePayloadAndTheNames() async throws {
        let canary = "cort-plaintext-canary-" + UUID().uuidString
        let (answer, capture) = try await Self.relayedCall(canary, curve: false)
        #expect(answer == canary)
        #expect(capture.toNode.contains(subsequence: canary), "the request's argument")
        #expect(capture.toCaller.contains(subsequence: canary), "the reply's result")
        for name in Self.names {
            #expect(capture.toNode.contains(subsequence: name), "the request names \(name)")
        }
        #expect(!capture.toNode.contains(subsequence: "CURVE"))
    }
}

/// The service whose calls the relay captures.
distributed actor WireSecretEcho {
    typealias ActorSystem = CortSystem

    distributed func mirrorCanary(_ text: String) -> String { text }
}

/// A TCP relay on loopback that forwards every connection it accepts to a
/// port on 127.0.0.1 and records every byte, both ways.
///
/// POSIX sockets on threads of its own (one accepts, one per connection
/// pumps both ways), never on Swift's cooperative pool. Every wait is a
/// `poll` of at most 100 ms that rechecks whether the relay is stopping,
/// sends time out after 10 s, and the capture is capped: nothing in it
/// waits unboundedly. ``stop()`` closes every socket and returns once every
/// thread has ended.
final class RecordingRelay: Sendable {
    /// What went through the relay.
    struct Capture: Sendable {
        var toNode: [UInt8] = []
        var toCaller: [UInt8] = []
        var connections = 0

        var directions: [(String, [UInt8])] { [("caller → node", toNode), ("node → caller", toCaller)] }
    }

    private struct State {
        var capture = Capture()
        var stopping = false
        var threads: [ThreadEnd] = []
    }

    /// The port it listens on.
    let port: UInt16
    private let upstreamPort: UInt16
    private let listener: Int32
    private let state = Mutex(State())
    /// Bytes recorded per direction at most (far more than one call takes).
    static let captureLimit = 16 << 20

    private init(port: UInt16, upstreamPort: UInt16, listener: Int32) {
        self.port = port
        self.upstreamPort = upstreamPort
        self.listener = listener
    }

    /// Listens on 127.0.0.1 (a free port) and forwards to `upstreamPort` on 127.0.0.1.
    static func start(forwardingTo upstreamPort: UInt16) throws -> RecordingRelay {
        // Non-blocking: a connection that poll(2) reported and that is gone
        // by the time of accept(2) makes accept fail, not wait forever.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard listener >= 0 else { throw RelayError("socket", errno) }
        var address = loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(listener, generic, length) == 0 && listen(listener, 16) == 0
                    && getsockname(listener, generic, &length) == 0
            }
        }
        guard bound else {
            let code = errno
            close(listener)
            throw RelayError("bind", code)
        }
        let relay = RecordingRelay(port: UInt16(bigEndian: address.sin_port), upstreamPort: upstreamPort, listener: listener)
        relay.spawn { relay.acceptLoop() }
        return relay
    }

    /// Stops accepting, closes every connection, waits for every thread and
    /// returns what was captured.
    func stop() async -> Capture {
        let acceptor = state.withLock { state in
            state.stopping = true
            return state.threads.first
        }
        // The accept thread starts the others: once it has ended, the list is complete.
        await acceptor?.wait()
        for thread in state.withLock({ $0.threads }) { await thread.wait() }
        return state.withLock { $0.capture }
    }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    private func spawn(_ body: @escaping @Sendable () -> Void) {
        let end = ThreadEnd()
        state.withLock { $0.threads.append(end) }
        Thread.detachNewThread {
            body()
            end.finish()
        }
    }

    private func acceptLoop() {
        defer { close(listener) }
        while !isStopping {
            var entry = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            let upstream = Self.connectToLoopback(port: upstreamPort)
            guard upstream >= 0 else {
                close(client)
                continue
            }
            state.withLock { $0.capture.connections += 1 }
            spawn { self.pump(client: client, upstream: upstream) }
        }
    }

    /// Forwards both ways until both sides have closed or the relay stops.
    private func pump(client: Int32, upstream: Int32) {
        defer {
            close(client)
            close(upstream)
        }
        for descriptor in [client, upstream] { Self.setSendTimeout(descriptor, seconds: 10) }
        // Index 0: caller → node (read from the client); 1: node → caller.
        let sources = [client, upstream]
        let sinks = [upstream, client]
        var reading = [true, true]
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while !isStopping, reading.contains(true) {
            var entries = (0..<2).map { pollfd(fd: reading[$0] ? sources[$0] : -1, events: Int16(POLLIN), revents: 0) }
            guard poll(&entries, 2, 100) > 0 else { continue }
            for side in 0..<2 where reading[side] && entries[side].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { recv(sources[side], $0.baseAddress, $0.count, 0) }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else {
                    // End of stream (or a reset): pass the end on, keep the other way open.
                    reading[side] = false
                    shutdown(sinks[side], Int32(SHUT_WR))
                    continue
                }
                let chunk = Array(buffer[0..<count])
                record(chunk, toNode: side == 0)
                guard Self.sendAll(chunk, to: sinks[side]) else { return }
            }
        }
    }

    private func record(_ chunk: [UInt8], toNode: Bool) {
        state.withLock { state in
            if toNode {
                if state.capture.toNode.count < Self.captureLimit { state.capture.toNode += chunk }
            } else if state.capture.toCaller.count < Self.captureLimit {
                state.capture.toCaller += chunk
            }
        }
    }

    private static func sendAll(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let count = bytes.withUnsafeBytes { raw in
                send(descriptor, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            sent += count
        }
        return true
    }

    private static func setSendTimeout(_ descriptor: Int32, seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    /// A connected socket to 127.0.0.1:`port`, or -1.
    private static func connectToLoopback(port: UInt16) -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return -1 }
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            close(descriptor)
            return -1
        }
        return descriptor
    }
}

struct RelayError: Error, CustomStringConvertible {
    let description: String
    init(_ call: String, _ code: Int32) { description = "\(call): \(String(cString: strerror(code)))" }
}

extension [UInt8] {
    /// Whether the UTF-8 bytes of `text` appear in these bytes, in a row.
    func contains(subsequence text: String) -> Bool {
        let needle = Array(text.utf8)
        guard !needle.isEmpty, count >= needle.count else { return false }
        for start in 0...(count - needle.count) where self[start] == needle[0] {
            if self[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
