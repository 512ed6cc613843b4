import CortZeroMQ
import DequeModule
import Logging

/// The caller's side of one remote service: one ROUTER connected to every
/// node of the service, the node list, and the calls in flight.
///
/// It runs on its system's reactor, so sending a request and matching a reply
/// to its caller need no thread hop besides the caller's own.
actor RemoteService {
    /// What a node answered.
    enum Answer: Sendable {
        case value([UInt8]?)
        case failure(CallFailure)
    }

    /// One connection: a node's instance at one endpoint. An instance that
    /// moves to another endpoint is a new connection while the old one drains.
    private struct Node {
        let instance: ServiceInstance
        /// The connection's name on this ROUTER (`ZMQ_CONNECT_ROUTING_ID`),
        /// unique per connection, so an old and a new connection of one
        /// instance can both be addressed.
        let routingID: [UInt8]
        var inFlight = 0
        /// Discovery dropped it: no new calls, but the connection stays until
        /// the calls in flight on it are settled (a reply may still come).
        var leaving = false
    }

    private struct PendingCall {
        let continuation: CheckedContinuation<Answer, any Error>
        let node: String
        let method: String
        let deadline: Duration
    }

    private struct NodeWaiter {
        let id: UInt64
        let continuation: CheckedContinuation<Void, any Error>
        let deadline: Duration
    }

    let name: String
    private let reactor: ZeroMQReactor
    private let socket: ZeroMQSocket
    private let clock: RuntimeClock
    private let logger: Logger
    private let limits: WireLimits

    /// Connections by ``connectionKey(_:)``.
    private var nodes: [String: Node] = [:]
    private var connectionsMade = 0
    /// Nodes that discovery reported but that cannot be connected to (a bad
    /// endpoint): calls fail with `transport` when no other node is left.
    private var unreachable: [String: ZeroMQError] = [:]
    private var nodeOrder: [String] = []
    private var nextNode = 0
    private var hasNodeList = false
    private var nodeWaiters: [NodeWaiter] = []
    private var pending: [UInt64: PendingCall] = [:]
    private var nextCallID: UInt64 = 0
    private var deadlines = Deque<(deadline: Duration, id: UInt64)>()
    private var timer: Task<Void, Never>?
    private var timerDeadline: Duration?
    private var buffer: [UInt8] = []
    private var closed = false

    /// Replies whose call was no longer waited for (cancelled or timed out).
    private(set) var lateReplies = 0
    /// Frames from nodes that broke the protocol.
    private(set) var badFrames = 0

    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }

    init(name: String, system: CortSystem) throws {
        self.name = name
        reactor = system.reactor
        clock = system.clock
        logger = system.logger
        limits = system.limits
        socket = try ZeroMQSocket(.router, context: system.context, reactor: system.reactor)
        try socket.set(.routingID, Array("c:\(CortSystem.randomHex(16))".utf8))
        try socket.set(.routerMandatory, true)
        try socket.set(.maxMessageSize, Int64(limits.maxEnvelopeBytes) * 2)
    }

    // MARK: Nodes

    /// Connects to new nodes and disconnects from the ones that left.
    func update(nodes instances: [ServiceInstance]) {
        guard !closed else { return }
        let incoming = Dictionary(instances.map { (Self.connectionKey($0), $0) }, uniquingKeysWith: { kept, _ in kept })
        for (key, node) in nodes where !node.leaving && incoming[key] == nil {
            nodes[key]?.leaving = true
            logger.debug("node left", metadata: ["service": "\(name)", "node": "\(key)"])
            disconnectIfDone(key)
        }
        unreachable = unreachable.filter { incoming[$0.key] != nil }
        for key in incoming.keys where nodes[key]?.leaving == true {
            // It came back before its last calls were settled.
            nodes[key]?.leaving = false
        }
        for (key, instance) in incoming where nodes[key] == nil {
            connectionsMade += 1
            let routingID = Array("n\(connectionsMade)".utf8)
            do {
                // Naming the peer before connecting lets the first request be
                // queued at once; libzmq delivers it when the handshake is done.
                try socket.set(.connectRoutingID, routingID)
                try socket.connect(instance.endpoint)
                nodes[key] = Node(instance: instance, routingID: routingID)
                unreachable.removeValue(forKey: key)
                logger.debug("node joined", metadata: ["service": "\(name)", "node": "\(key)"])
            } catch {
                unreachable[key] = error as? ZeroMQError ?? ZeroMQError(.other, "\(error)")
                logger.warning("cannot connect to a node", metadata: [
                    "service": "\(name)", "node": "\(key)", "error": "\(error)"])
            }
        }
        nodeOrder = nodes.filter { !$0.value.leaving }.keys.sorted()
        hasNodeList = true
        let waiters = nodeWaiters
        nodeWaiters.removeAll()
        for waiter in waiters { waiter.continuation.resume() }
    }

    /// A connection's key: the instance id and its endpoint (ids have no spaces).
    private static func connectionKey(_ instance: ServiceInstance) -> String {
        "\(instance.id) \(instance.endpoint)"
    }

    /// One call on `id` is settled.
    private func callEnded(on id: String) {
        nodes[id]?.inFlight -= 1
        disconnectIfDone(id)
    }

    private func disconnectIfDone(_ id: String) {
        guard let node = nodes[id], node.leaving, node.inFlight <= 0 else { return }
        nodes.removeValue(forKey: id)
        // libzmq disconnects every connection to an endpoint: keep it while a
        // newer connection (an instance restarted under a new id) uses it.
        if !nodes.values.contains(where: { $0.instance.endpoint == node.instance.endpoint }) {
            try? socket.disconnect(node.instance.endpoint)
        }
    }

    /// The node for the next call: the fewest calls in flight, round robin among equals.
    private func pickNode() -> String? {
        guard !nodeOrder.isEmpty else { return nil }
        var best: String?
        var bestLoad = Int.max
        for offset in 0..<nodeOrder.count {
            let id = nodeOrder[(nextNode + offset) % nodeOrder.count]
            let load = nodes[id]?.inFlight ?? .max
            if load < bestLoad {
                best = id
                bestLoad = load
            }
        }
        nextNode = (nextNode + 1) % nodeOrder.count
        return best
    }

    // MARK: Calls

    /// Sends `request` to a node and waits for its answer until `deadline`.
    func call(_ request: CallRequest, deadline: Duration) async throws -> Answer {
        if closed { throw RemoteCallError(.shuttingDown, "the actor system is shut down") }
        if !hasNodeList {
            try await waitForNodeList(deadline: deadline)
        }
        guard let node = pickNode() else {
            if let (id, error) = unreachable.first {
                throw RemoteCallError(.transport, "\(request.method): cannot connect to node \(id)", cause: error)
            }
            throw RemoteCallError(.noNodes, "discovery knows no node for \(name)")
        }
        let now = clock.now
        if now >= deadline {
            throw RemoteCallError(.deadlineExceeded, "\(request.method): the deadline passed before the call was sent")
        }
        nextCallID &+= 1
        let id = nextCallID
        var request = request
        request.id = id
        request.timeout = deadline - now
        buffer.removeAll(keepingCapacity: true)
        WireCodec.encode(.request(request), into: &buffer)
        if buffer.count > limits.maxEnvelopeBytes {
            throw RemoteCallError(.messageTooLarge,
                                  "\(request.method): the request has \(buffer.count) bytes, over the limit of \(limits.maxEnvelopeBytes)")
        }
        try await send(to: node, buffer, method: request.method)

        nodes[node]?.inFlight += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Answer, any Error>) in
                if Task.isCancelled {
                    sendCancel(id, to: node)
                    callEnded(on: node)
                    continuation.resume(throwing: RemoteCallError(.cancelled, "\(request.method): the caller was cancelled"))
                    return
                }
                pending[id] = PendingCall(continuation: continuation, node: node, method: request.method, deadline: deadline)
                schedule(deadline: deadline, id: id)
            }
        } onCancel: {
            // Runs on the cancelling thread: hop onto the reactor, where this actor lives.
            self.reactor.execute { self.assumeIsolated { $0.cancel(id) } }
        }
    }

    private func send(to node: String, _ envelope: [UInt8], method: String) async throws {
        var message = ZeroMQMessage(frameCapacity: 2)
        message.append(nodes[node]?.routingID ?? [])
        message.append(envelope)
        do {
            if try socket.trySend(&message) { return }
            // A full pipe is backpressure: wait for room, never drop.
            try await socket.send(message)
        } catch let error as ZeroMQError {
            throw RemoteCallError(.transport, "\(method): cannot send to node \(node)", cause: error)
        }
    }

    /// Call it before ``callEnded(on:)``, which may forget a leaving node.
    private func sendCancel(_ id: UInt64, to node: String) {
        var bytes: [UInt8] = []
        WireCodec.encode(.cancel(id: id), into: &bytes)
        guard let routingID = nodes[node]?.routingID else { return }
        var message = ZeroMQMessage(frameCapacity: 2)
        message.append(routingID)
        message.append(bytes)
        // Best effort: a node that cannot be told stops the work at its deadline.
        _ = try? socket.trySend(&message)
    }

    private func waitForNodeList(deadline: Duration) async throws {
        nextCallID &+= 1
        let id = nextCallID
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            nodeWaiters.append(NodeWaiter(id: id, continuation: continuation, deadline: deadline))
            schedule(deadline: deadline, id: id)
        }
    }

    private func cancel(_ id: UInt64) {
        guard let call = pending.removeValue(forKey: id) else { return }
        sendCancel(id, to: call.node)
        callEnded(on: call.node)
        call.continuation.resume(throwing: RemoteCallError(.cancelled, "\(call.method): the caller was cancelled"))
    }

    // MARK: Deadlines

    private func schedule(deadline: Duration, id: UInt64) {
        // Deadlines mostly arrive in order (one default timeout), so a deque
        // kept sorted by insertion from the back is enough.
        var index = deadlines.endIndex
        while index > deadlines.startIndex, deadlines[index - 1].deadline > deadline { index -= 1 }
        deadlines.insert((deadline, id), at: index)
        armTimer()
    }

    private func armTimer() {
        guard let first = deadlines.first?.deadline else { return }
        if let armed = timerDeadline, armed <= first { return }
        timer?.cancel()
        timerDeadline = first
        let clock = self.clock
        timer = Task {
            do {
                try await clock.sleep(until: first)
            } catch {
                return  // re-armed for an earlier deadline, or closed
            }
            self.expireDue()
        }
    }

    private func expireDue() {
        timerDeadline = nil
        let now = clock.now
        while let first = deadlines.first, first.deadline <= now {
            deadlines.removeFirst()
            if let call = pending.removeValue(forKey: first.id) {
                sendCancel(first.id, to: call.node)
                callEnded(on: call.node)
                call.continuation.resume(throwing: RemoteCallError(
                    .deadlineExceeded, "\(call.method): no answer from node \(call.node) before the deadline"))
            } else if let index = nodeWaiters.firstIndex(where: { $0.id == first.id }) {
                let waiter = nodeWaiters.remove(at: index)
                waiter.continuation.resume(throwing: RemoteCallError(
                    .noNodes, "discovery reported no node list for \(name) before the deadline"))
            }
        }
        armTimer()
    }

    // MARK: Replies

    /// Receives answers and hands them to their callers until the reactor stops.
    func run() async {
        while !closed {
            let message: ZeroMQMessage
            do {
                message = try await socket.receive()
            } catch {
                if !closed && !(error is CancellationError) {
                    logger.warning("the remote service stopped receiving", metadata: ["service": "\(name)", "error": "\(error)"])
                }
                return
            }
            handle(message)
        }
    }

    private func handle(_ message: consuming ZeroMQMessage) {
        guard message.count == 2 else {
            badFrames += 1
            logger.debug("dropped a message with \(message.count) frames", metadata: ["service": "\(name)"])
            return
        }
        let decoded: Envelope
        do {
            decoded = try message.withFrame(at: 1) { try WireCodec.decode($0, limits: limits) }
        } catch {
            badFrames += 1
            logger.debug("dropped a malformed answer", metadata: ["service": "\(name)", "error": "\(error)"])
            return
        }
        switch decoded {
        case .reply(let id, let result):
            settle(id, with: .value(result))
        case .failure(let id, let failure):
            settle(id, with: .failure(failure))
        case .pong, .ping, .request, .cancel:
            break
        }
    }

    private func settle(_ id: UInt64, with answer: Answer) {
        guard let call = pending.removeValue(forKey: id) else {
            lateReplies += 1
            return
        }
        callEnded(on: call.node)
        call.continuation.resume(returning: answer)
    }

    /// Fails every waiting call and stops receiving.
    func close() {
        closed = true
        timer?.cancel()
        let calls = pending
        pending.removeAll()
        for call in calls.values {
            call.continuation.resume(throwing: RemoteCallError(.shuttingDown, "\(call.method): the actor system shut down"))
        }
        let waiters = nodeWaiters
        nodeWaiters.removeAll()
        for waiter in waiters {
            waiter.continuation.resume(throwing: RemoteCallError(.shuttingDown, "the actor system shut down"))
        }
    }
}
