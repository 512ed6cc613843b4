import CortTesting
import CortZeroMQ
import Foundation
import Synchronization
import Testing
@testable import Cort

#if canImport(Glibc)
import Glibc
#endif

/// The first calls of a fresh caller: nodes that are still connecting take
/// calls as soon as they answer, and a burst made while they connect is
/// spread over them instead of landing on the node that answered first.
///
/// The callers keep time on a TestClock: a grace passes only when a test
/// moves the clock, so where the calls go depends on what the nodes did,
/// never on how loaded the machine is.
@Suite(.timeLimit(.minutes(2))) struct FirstBurstTests {
    static func key(_ name: String) -> String { "\(name)-\(UUID().uuidString)" }

    /// How many calls of `key` started on each endpoint (`Ledger.holdUntilReleased`).
    static func started(_ key: String) -> [String: Int] {
        var share: [String: Int] = [:]
        for event in Observations.shared.events(key) where event.hasPrefix("started@") {
            share[String(event.dropFirst("started@".count)), default: 0] += 1
        }
        return share
    }

    /// Waits (at most 30 s) until `count` calls of `key` started, on `endpoint` or anywhere.
    static func waitForStarted(_ key: String, _ count: Int, on endpoint: String? = nil) async -> Bool {
        await Observations.shared.waitFor(key) { _ in
            let share = started(key)
            return (endpoint.map { share[$0, default: 0] } ?? share.values.reduce(0, +)) >= count
        }
    }

    /// Releases the held calls of `key` and returns how those that failed failed.
    static func release(_ key: String, _ calls: [Task<String, any Error>]) async -> [String] {
        Observations.shared.release(key)
        var failures: [String] = []
        for call in calls {
            do { _ = try await call.value } catch { failures.append("\(error)") }
        }
        return failures
    }

    /// `count` nodes hosting the ledger with a replica for every call a test
    /// holds, on a TestClock that never moves (a held call outlives any
    /// deadline it carries, however slowly the test releases it); they are
    /// shut down at the end.
    static func withLedgerNodes<R>(
        _ count: Int, replicas: Int,
        _ body: ([CortSystem]) async throws -> R
    ) async throws -> R {
        let discovery = LocalDiscovery()
        let clock = TestClock()
        var nodes: [CortSystem] = []
        do {
            for index in 0..<count {
                let node = try CortSystem.start(.init(name: "node-\(index)", discovery: discovery,
                                                      endpoint: "tcp://127.0.0.1:0", clock: clock, drainGrace: .zero))
                nodes.append(node)
                try await node.host("ledger", replicas: replicas) { Ledger(actorSystem: $0) }
            }
            let result = try await body(nodes)
            for node in nodes { await node.shutdown() }
            return result
        } catch {
            for node in nodes { await node.shutdown() }
            throw error
        }
    }

    /// A caller that finds the ledger at `endpoints` (and nowhere else), on `clock`.
    static func caller(_ endpoints: [String], clock: TestClock) throws -> CortSystem {
        let discovery = try StaticDiscovery(["ledger": endpoints])
        return try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(30),
                                          clock: clock))
    }

    // MARK: The burst

    /// Three nodes; a fresh caller fires 60 calls the moment it first names
    /// the service, when it has connected to no node yet. Two of the nodes
    /// are behind gates that hold their connections, so they are still
    /// connecting when the first node answers: that node takes its third
    /// of the burst, and the rest wait for the other two, which take theirs
    /// once their gates open. Each call is held on its node until all of
    /// them run, so a node's count is what was sent to it.
    @Test func aBurstMadeWhileNodesConnectIsSpreadOverThem() async throws {
        let burst = 60
        let key = Self.key("burst")
        try await Self.withLedgerNodes(3, replicas: burst) { nodes in
            let endpoints = try nodes.map { try #require($0.endpoint) }
            let gates = try [ConnectionGate(to: endpoints[1]), ConnectionGate(to: endpoints[2])]
            let caller = try Self.caller([endpoints[0]] + gates.map(\.endpoint), clock: TestClock())
            let ledger = try Ledger.resolve(id: .service("ledger"), using: caller)
            let calls = (0..<burst).map { _ in Task { try await ledger.holdUntilReleased(key) } }

            // The first node answers and takes a third; the others are still connecting.
            let firstTook = await Self.waitForStarted(key, burst / 3, on: endpoints[0])
            for gate in gates { gate.open() }
            let allStarted = await Self.waitForStarted(key, burst)
            let share = Self.started(key)
            let failures = await Self.release(key, calls)
            await caller.shutdown()
            for gate in gates { await gate.stop() }

            #expect(firstTook)
            #expect(allStarted, "every call of the burst runs: \(share)")
            #expect(failures.isEmpty, "\(failures)")
            for endpoint in endpoints {
                #expect(share[endpoint, default: 0] >= 10, "each node serves a fair part of the burst: \(share)")
            }
        }
    }

    /// The same burst of quick calls on the real clock, as a user makes it:
    /// all three nodes connect at once and calls end while the others are
    /// still being sent. None fails. How the burst spread depends on when
    /// each node answers (a node starved of CPU may answer after the others
    /// served it all), so it is reported, not asserted; the test above
    /// asserts the spread on virtual time.
    @Test func aBurstOfQuickCallsFromAFreshCallerAllSucceed() async throws {
        let burst = 60
        try await withNodes(3, host: { node, _ in
            try await node.host("greeter", replicas: 4) { Greeter(actorSystem: $0) }
        }) { nodes, caller in
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            let served = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<burst {
                    group.addTask { try? await greeter.whoAmI() }
                }
                var served: [String?] = []
                for await endpoint in group { served.append(endpoint) }
                return served
            }
            var share: [String: Int] = [:]
            for endpoint in served.compactMap({ $0 }) { share[endpoint, default: 0] += 1 }
            let spread = try nodes.map { share[try #require($0.endpoint), default: 0] }.sorted(by: >)
            print("FIGURE firstBurst.quickCallsPerNode=\(spread)")
            #expect(served.allSatisfy { $0 != nil }, "no call fails: \(share)")
        }
    }

    // MARK: What bounds the wait

    /// A node that never answers (its gate stays shut) is waited for no
    /// longer than the connect grace: the calls held for it then go to the
    /// node that answered, and none fails.
    @Test func callsWaitForAJoiningNodeNoLongerThanTheConnectGrace() async throws {
        let burst = 30
        let key = Self.key("grace")
        try await Self.withLedgerNodes(2, replicas: burst) { nodes in
            let endpoints = try nodes.map { try #require($0.endpoint) }
            let gate = try ConnectionGate(to: endpoints[1])
            let clock = TestClock()
            let caller = try Self.caller([endpoints[0], gate.endpoint], clock: clock)
            let ledger = try Ledger.resolve(id: .service("ledger"), using: caller)
            let calls = (0..<burst).map { _ in Task { try await ledger.holdUntilReleased(key) } }

            let halfTook = await Self.waitForStarted(key, burst / 2, on: endpoints[0])
            let beforeGrace = Self.started(key)
            clock.advance(by: HeartbeatConfiguration().connectGrace)
            let allTook = await Self.waitForStarted(key, burst, on: endpoints[0])
            let failures = await Self.release(key, calls)
            await caller.shutdown()
            await gate.stop()

            #expect(halfTook)
            #expect(beforeGrace == [endpoints[0]: burst / 2], "the other half waits for the joining node")
            #expect(allTook, "after the grace, the node that answered takes them: \(Self.started(key))")
            #expect(failures.isEmpty, "\(failures)")
        }
    }

    /// A call whose deadline leaves no room for the grace is not held: it
    /// goes to the node that answered at once (the clock never moves).
    @Test func aCallWithoutTimeToWaitGoesToTheNodeThatAnswered() async throws {
        let burst = 30
        let key = Self.key("short")
        try await Self.withLedgerNodes(2, replicas: burst) { nodes in
            let endpoints = try nodes.map { try #require($0.endpoint) }
            let gate = try ConnectionGate(to: endpoints[1])
            let caller = try Self.caller([endpoints[0], gate.endpoint], clock: TestClock())
            let ledger = try Ledger.resolve(id: .service("ledger"), using: caller)
            // Less than twice the grace: waiting it out could cost the call its answer.
            let timeout = HeartbeatConfiguration().connectGrace * 3 / 2
            let calls = (0..<burst).map { _ in
                Task { try await withCallOptions(timeout: timeout) { try await ledger.holdUntilReleased(key) } }
            }
            let allTook = await Self.waitForStarted(key, burst, on: endpoints[0])
            let failures = await Self.release(key, calls)
            await caller.shutdown()
            await gate.stop()

            #expect(allTook, "\(Self.started(key))")
            #expect(failures.isEmpty, "\(failures)")
        }
    }

    /// A node that refuses the connection is not waited for: libzmq reports
    /// the failed attempt, and the burst goes to the node that answered
    /// (the clock never moves, so no grace ends).
    @Test func aNodeThatRefusesTheConnectionIsNotWaitedFor() async throws {
        let burst = 30
        let key = Self.key("refused")
        try await Self.withLedgerNodes(1, replicas: burst) { nodes in
            let endpoint = try #require(nodes[0].endpoint)
            let closed = try closedEndpoint()
            defer { withExtendedLifetime(closed) {} }
            let caller = try Self.caller([endpoint, closed.endpoint], clock: TestClock())
            let ledger = try Ledger.resolve(id: .service("ledger"), using: caller)
            let calls = (0..<burst).map { _ in Task { try await ledger.holdUntilReleased(key) } }
            let allTook = await Self.waitForStarted(key, burst, on: endpoint)
            let failures = await Self.release(key, calls)
            await caller.shutdown()

            #expect(allTook, "\(Self.started(key))")
            #expect(failures.isEmpty, "\(failures)")
        }
    }

    /// libzmq reports a refused connect as `connectRetried`, naming the endpoint.
    @Test func aRefusedConnectIsReportedAsRetried() throws {
        let context = try ZeroMQContext()
        let socket = try ZeroMQSocket(.router, context: context)
        let monitor = "inproc://first-burst-\(UUID().uuidString)"
        try socket.monitor(monitor, events: .connectRetried)
        let events = try ZeroMQSocket(.pair, context: context)
        try events.connect(monitor)
        let closed = try closedEndpoint()
        defer { withExtendedLifetime(closed) {} }
        let endpoint = closed.endpoint
        try socket.connect(endpoint)
        #expect(try events.poll(.readable, timeout: .seconds(30)).contains(.readable))
        guard let message = try events.tryReceive() else {
            Issue.record("no event")
            return
        }
        let event = try MonitorEvent(message)
        #expect(event.event == ZeroMQSocket.MonitorEvents.connectRetried)
        #expect(event.endpoint == endpoint)
        try socket.stopMonitoring()
    }

    // MARK: The rules alone

    @Test func aNodeTakesItsShareOfTheCallsAtHandWhileOthersJoin() {
        #expect(JoiningShare.limit(calls: 60, ready: 1, joining: 2) == 20)
        #expect(JoiningShare.limit(calls: 61, ready: 2, joining: 1) == 21)
        #expect(JoiningShare.limit(calls: 1, ready: 1, joining: 2) == 1, "a single call never waits")
        #expect(JoiningShare.limit(calls: 0, ready: 1, joining: 5) == 1)
        #expect(JoiningShare.limit(calls: 60, ready: 3, joining: 0) == nil, "no bound once every node answered")
    }

    @Test func aCallWaitsForJoiningNodesOnlyWhenItHasTheTime() {
        let grace = Duration.milliseconds(250)
        #expect(JoiningShare.mayWait(deadline: .seconds(10), joiningUntil: .milliseconds(250), grace: grace))
        #expect(JoiningShare.mayWait(deadline: .milliseconds(500), joiningUntil: .milliseconds(250), grace: grace))
        #expect(!JoiningShare.mayWait(deadline: .milliseconds(499), joiningUntil: .milliseconds(250), grace: grace))
    }

    @Test func aNodeJoinsUntilItAnswersItsConnectFailsOrItsGraceEnds() {
        let configuration = HeartbeatConfiguration(interval: .seconds(1), liveness: 3)
        #expect(configuration.connectGrace == .milliseconds(250))
        #expect(HeartbeatConfiguration(interval: .milliseconds(100)).connectGrace == .milliseconds(100))

        // Each is pinged when connected to, as RemoteService does.
        var answered = NodeHealth(now: .zero, joiningFor: configuration.connectGrace)
        answered.pinged(at: .zero, configuration: configuration)
        #expect(answered.isJoining(at: .zero) && !answered.takesCalls)
        #expect(answered.nextWakeup(configuration: configuration) == .milliseconds(250), "the grace's end is a wakeup")
        let change = answered.heard(at: .milliseconds(3), configuration: configuration)
        #expect(change == .connected)
        #expect(!answered.isJoining(at: .milliseconds(3)) && answered.takesCalls)

        var refused = NodeHealth(now: .zero, joiningFor: configuration.connectGrace)
        let (first, second) = (refused.connectFailed(), refused.connectFailed())
        #expect(first)
        #expect(!second, "once")
        #expect(!refused.isJoining(at: .milliseconds(1)))
        #expect(refused.state == .connecting, "it may still connect later, like any node")

        var silent = NodeHealth(now: .zero, joiningFor: configuration.connectGrace)
        silent.pinged(at: .zero, configuration: configuration)
        #expect(silent.isJoining(at: .milliseconds(249)))
        #expect(!silent.isJoining(at: .milliseconds(250)))
        let early = silent.tick(at: .milliseconds(100), configuration: configuration)
        #expect(!early.stoppedJoining)
        let end = silent.tick(at: .milliseconds(250), configuration: configuration)
        #expect(end.stoppedJoining && !end.ping && end.change == nil)
        #expect(silent.nextWakeup(configuration: configuration) == .seconds(1))

        var ungraced = NodeHealth(now: .zero)
        #expect(!ungraced.isJoining(at: .zero))
        let failed = ungraced.connectFailed()
        #expect(!failed)
    }
}

/// An endpoint on loopback where nothing listens (a port bound, then closed).
func closedEndpoint() throws -> ClosedEndpoint {
    try ClosedEndpoint()
}

/// A port of 127.0.0.1 that refuses connections: bound by a socket that
/// never listens, so no other test's node can be given it (a port bound
/// and closed again once was, by a node of another test running beside:
/// the caller's burst went to that node and was answered "unknown target").
/// The port is held until this is closed or goes away.
final class ClosedEndpoint: Sendable {
    private let socket: TCPSocket
    let endpoint: String

    init() throws {
        socket = try TCPSocket.bound()
        endpoint = "tcp://127.0.0.1:\(socket.port)"
    }

    deinit { socket.close() }
}

/// A TCP relay in front of a node that holds every connection it accepts
/// until it is opened: a caller's TCP connect completes, but no byte reaches
/// the node (no ZMTP handshake, no ping, no pong) until the test says so. To
/// the caller, the node is still connecting.
final class ConnectionGate: @unchecked Sendable {
    // @unchecked: the sockets belong to the relay's own thread; the rest is
    // Atomic and a Mutex.
    let endpoint: String
    private let isOpen = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    private let done = ThreadEnd()

    /// A gate in front of `target` (`tcp://127.0.0.1:<port>`), shut.
    init(to target: String) throws {
        guard let port = target.split(separator: ":").last.flatMap({ UInt16($0) }) else {
            throw ZeroMQError(.invalid, "not a loopback endpoint: \(target)")
        }
        let listener = try TCPSocket.listening()
        endpoint = "tcp://127.0.0.1:\(listener.port)"
        Thread.detachNewThread { [self] in relay(listener, to: port) }
    }

    /// Lets the held connections, and every later one, through to the node.
    func open() { isOpen.store(true, ordering: .releasing) }

    /// Closes every connection and the listener, and waits for the relay's thread.
    func stop() async {
        stopped.store(true, ordering: .releasing)
        await done.wait()
    }

    private func relay(_ listener: TCPSocket, to port: UInt16) {
        var held: [TCPSocket] = []
        var pairs: [(client: TCPSocket, node: TCPSocket)] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        // Bounded: a test that forgets to stop it ends after 60 s anyway.
        let giveUp = ContinuousClock.now + .seconds(60)
        while !stopped.load(ordering: .acquiring), ContinuousClock.now < giveUp {
            if isOpen.load(ordering: .acquiring) {
                for client in held {
                    if let node = try? TCPSocket.connected(to: port) {
                        pairs.append((client, node))
                    } else {
                        client.close()
                    }
                }
                held.removeAll()
            }
            var polled = [pollfd(fd: listener.descriptor, events: Int16(POLLIN), revents: 0)]
            for pair in pairs {
                polled.append(pollfd(fd: pair.client.descriptor, events: Int16(POLLIN), revents: 0))
                polled.append(pollfd(fd: pair.node.descriptor, events: Int16(POLLIN), revents: 0))
            }
            guard poll(&polled, nfds_t(polled.count), 5) > 0 else { continue }
            if polled[0].revents != 0, let client = listener.accept() { held.append(client) }
            var closed: Set<Int> = []
            for (index, pair) in pairs.enumerated() {
                let (fromClient, fromNode) = (polled[1 + 2 * index].revents, polled[2 + 2 * index].revents)
                if fromClient != 0 && !pair.client.pass(to: pair.node, &buffer) { closed.insert(index) }
                if fromNode != 0 && !pair.node.pass(to: pair.client, &buffer) { closed.insert(index) }
            }
            for index in closed.sorted(by: >) {
                pairs[index].client.close()
                pairs[index].node.close()
                pairs.remove(at: index)
            }
        }
        for socket in held { socket.close() }
        for pair in pairs {
            pair.client.close()
            pair.node.close()
        }
        listener.close()
        done.finish()
    }
}

/// A blocking TCP socket on IPv4 loopback, for ``ConnectionGate``.
struct TCPSocket {
    let descriptor: Int32

    /// A socket bound to a free port of 127.0.0.1, not listening: the port
    /// is taken, and connections to it are refused.
    static func bound() throws -> TCPSocket {
        let socket = try make()
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            socket.close()
            throw ZeroMQError(.other, "cannot bind on 127.0.0.1: errno \(errno)")
        }
        return socket
    }

    /// A socket listening on a free port of 127.0.0.1.
    static func listening() throws -> TCPSocket {
        let socket = try bound()
        // Non-blocking: the relay accepts after poll(2) says a connection
        // waits; one gone by then makes accept(2) fail, not wait forever.
        // (Accepted sockets do not inherit it.)
        guard listen(socket.descriptor, 64) == 0,
              fcntl(socket.descriptor, F_SETFL, fcntl(socket.descriptor, F_GETFL) | O_NONBLOCK) == 0 else {
            socket.close()
            throw ZeroMQError(.other, "cannot listen on 127.0.0.1: errno \(errno)")
        }
        return socket
    }

    /// A socket connected to `port` of 127.0.0.1.
    static func connected(to port: UInt16) throws -> TCPSocket {
        let socket = try make()
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(socket.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            socket.close()
            throw ZeroMQError(.other, "cannot connect to 127.0.0.1:\(port): errno \(errno)")
        }
        return socket
    }

    private static func make() throws -> TCPSocket {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw ZeroMQError(.other, "cannot make a socket: errno \(errno)") }
        return TCPSocket(descriptor: descriptor)
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }

    /// The local port.
    var port: UInt16 {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return UInt16(bigEndian: address.sin_port)
    }

    func accept() -> TCPSocket? {
        let client = Glibc.accept(descriptor, nil, nil)
        return client >= 0 ? TCPSocket(descriptor: client) : nil
    }

    /// Reads what is there and writes all of it to `other`; false when this
    /// side closed or either side failed.
    func pass(to other: TCPSocket, _ buffer: inout [UInt8]) -> Bool {
        let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return false }
        var sent = 0
        while sent < count {
            // MSG_NOSIGNAL: a peer that closed is an error here, not a SIGPIPE that ends the test process.
            let written = buffer.withUnsafeBytes {
                send(other.descriptor, $0.baseAddress! + sent, count - sent, Int32(MSG_NOSIGNAL))
            }
            guard written > 0 else { return false }
            sent += written
        }
        return true
    }

    func close() { _ = Glibc.close(descriptor) }
}
