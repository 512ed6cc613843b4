import CortZeroMQ
import DequeModule
import Logging

/// The caller's side of one remote service: one ROUTER connected to every
/// node of the service, the node list with each node's health, and the
/// calls in flight.
///
/// A default actor: a caller's task enters it on its own thread and sends
/// its request there, with no hop to the reactor and no wake-up of it (the
/// reactor sleeps in poll(2) while a call is out). The reactor polls only
/// the socket's descriptor and hands what arrives to ``run()``, which reads
/// it in this actor on the reactor thread; a caller that prefers the reactor
/// (``CortSystem/taskExecutor``) runs this actor there too. It is the
/// ZeroMQ Guide's Freelance pattern: it pings quiet nodes (``NodeHealth``),
/// sends calls to live nodes with room, and settles the calls of a node that
/// fails by the rules of ``Failover``. While nodes it just connected to are
/// joining, a node that answered takes no more than its share of the calls
/// at hand (``JoiningShare``), so the first burst of a fresh caller is
/// spread over its nodes rather than sent to the first one to answer.
actor RemoteService {
    /// What a node answered.
    enum Answer: Sendable {
        case value([UInt8]?)
        case failure(CallFailure)
    }

    /// One connection: a node's instance at one endpoint. An instance that
    /// moves to another endpoint is a new connection while the old one drains.
    /// A class: a call updates its node as it starts and ends, and a struct
    /// of this size in a dictionary costs a heap-allocated accessor frame per
    /// update (two allocations a call, measured with uprobes on malloc).
    private final class Node {
        // Its fields are not checked for exclusivity at run time: only this
        // actor touches a node, and the check cost a runtime call at each of
        // the several places a call reads or counts on its node.
        /// Its key in `nodes` (``connectionKey(_:)``).
        let key: String
        let instance: ServiceInstance
        /// The connection's number; its name on this ROUTER
        /// (`ZMQ_CONNECT_ROUTING_ID`) is `n<number>`. A new connection to
        /// the same node gets a new number, so frames of an old one are told apart.
        @exclusivity(unchecked) var connection: Int {
            didSet { routingID = Self.routingID(connection) }
        }
        /// `n<connection>`, kept rather than built on every send.
        @exclusivity(unchecked) private(set) var routingID: [UInt8]
        @exclusivity(unchecked) var inFlight = 0
        /// Discovery dropped it: no new calls, but the connection stays until
        /// the calls in flight on it are settled (a reply may still come).
        @exclusivity(unchecked) var leaving = false
        /// The incarnation that said it is draining: no new calls until
        /// another incarnation answers.
        @exclusivity(unchecked) var draining: UInt64?
        @exclusivity(unchecked) var health: NodeHealth
        /// The handshake of the current connection completed (libzmq said
        /// so, or a frame came): what was sent on it may have arrived.
        @exclusivity(unchecked) var handshaken = false
        /// Why the last handshake with the node failed, while none has
        /// succeeded since: it takes no calls, and a call that finds no
        /// other node fails with this rather than wait for its deadline.
        @exclusivity(unchecked) var handshakeFailure: String?

        var takesCalls: Bool { !leaving && draining == nil && health.takesCalls && handshakeFailure == nil }

        init(key: String, instance: ServiceInstance, connection: Int, health: NodeHealth) {
            self.key = key
            self.instance = instance
            self.connection = connection
            self.routingID = Self.routingID(connection)
            self.health = health
        }

        static func routingID(_ connection: Int) -> [UInt8] { Array("n\(connection)".utf8) }
    }

    /// How one attempt of a call ended.
    enum AttemptResult: Sendable {
        case notSent
        case answered(Answer)
        case nodeFailed(String)

        var attempt: Failover.Attempt {
            switch self {
            case .notSent: .notSent
            case .answered(.value): .answered(nil)
            case .answered(.failure(let failure)): .answered(failure)
            case .nodeFailed(let reason): .nodeFailed(reason: reason)
            }
        }

        var outcome: CallAttempt.Outcome {
            switch self {
            case .notSent: .notSent
            case .answered(.value): .answered
            case .answered(.failure(let failure)): .failed(failure.code)
            case .nodeFailed(let reason): .nodeFailed(reason)
            }
        }
    }

    private struct PendingCall {
        /// Where its caller waits; resumed exactly once, by whoever takes the call out of `pending`.
        let slot: AnswerSlot
        /// The node it went to (it stays in `nodes` while calls are in flight on it).
        let node: Node
        /// The connection it went out on: only that connection may answer it.
        let connection: Int
        let method: String
        let deadline: Duration
    }

    /// A call waiting for a node to take it (no node list yet, no live node, or all full).
    private struct Waiter {
        let continuation: CheckedContinuation<Void, any Error>
        let deadline: Duration
    }

    /// Thrown to a waiter whose deadline passed; the call turns it into the right error.
    private struct WaitExpired: Error {}

    /// What ``pickNode(avoiding:deadline:)`` found.
    private enum Pick {
        case node(Node)
        case noNodeList
        case noNodes
        case noneUsable
        case allRefused
        case full
        /// The nodes that take calls hold their share; the call waits for the joining ones.
        case joining
        /// No node takes calls, and the handshake with one failed (this, for people).
        case handshakeFailed(String)
    }

    let name: String
    private let reactor: ZeroMQReactor
    private let socket: ZeroMQSocket
    /// Where libzmq reports connections that dropped (a node that died or
    /// closed), so their calls are settled at once rather than after the
    /// heartbeat's liveness timeout.
    private let connectionEvents: ZeroMQSocket
    private let clock: RuntimeClock
    private let logger: Logger
    private let limits: WireLimits
    private let heartbeat: HeartbeatConfiguration
    private let callLimits: CallLimits

    // The state every call touches, several times each, is not checked for
    // exclusivity at run time (`@exclusivity(unchecked)`), as in
    // `NodeServer`: the actor's isolation already keeps other threads out,
    // the runtime's check sees overlaps on one thread only, and the checks
    // cost about 2,000 instructions a call on the caller (callgrind, one
    // call in flight: about 460 left with these unchecked).

    /// Connections by ``connectionKey(_:)``.
    @exclusivity(unchecked) private var nodes: [String: Node] = [:]
    /// The nodes by connection number, to match frames to nodes.
    @exclusivity(unchecked) private var nodeByConnection: [Int: Node] = [:]
    private var connectionsMade = 0
    /// Nodes that discovery reported but that cannot be connected to (a bad
    /// endpoint): calls fail with `transport` when no other node is left.
    private var unreachable: [String: RemoteCallError] = [:]
    /// This system's CURVE keys, nil in plaintext: then only nodes that
    /// publish a key are connected to, each expecting that key.
    private let curveKeys: CurveKeyPair?
    @exclusivity(unchecked) private var nodeOrder: [String] = []
    /// The nodes of `nodeOrder`, in its order: a call picks among them
    /// without hashing a key per node.
    @exclusivity(unchecked) private var orderedNodes: [Node] = []
    @exclusivity(unchecked) private var nextNode = 0
    private var hasNodeList = false
    @exclusivity(unchecked) private var totalInFlight = 0
    /// Calls in ``acquireNode(method:deadline:avoiding:lastRefusal:)``: with
    /// those in flight, the calls at hand a node's ``JoiningShare`` is of.
    @exclusivity(unchecked) private var callsAcquiring = 0
    /// Whether a node may be joining; false once a look found none, so calls
    /// pay for looking only in the grace after nodes were connected to.
    @exclusivity(unchecked) private var mayHaveJoining = false
    @exclusivity(unchecked) private var waiters: [UInt64: Waiter] = [:]
    @exclusivity(unchecked) private var waitOrder = Deque<UInt64>()
    @exclusivity(unchecked) private var pending: [UInt64: PendingCall] = [:]
    /// Ids of calls: unguessable, so a node cannot answer calls it never got.
    @exclusivity(unchecked) private var callIDs = CallIDs()
    private var nextWaiterID: UInt64 = 0
    private var nextPingSequence: UInt64 = 0
    /// Deadlines of calls in flight and of calls waiting for a node (`waiter`).
    @exclusivity(unchecked) private var deadlines = DeadlineQueue()
    /// Why discovery gave no node list, when its last attempt failed (the
    /// cause a `noNodes` error names); cleared by the next list.
    private var discoveryFailure: (any Error & Sendable)?
    private var rateLimited: RateLimitedLog
    /// The earliest time a node's heartbeat needs attention (may be early).
    @exclusivity(unchecked) private var heartbeatDue: Duration?
    @exclusivity(unchecked) private var timer: Task<Void, Never>?
    @exclusivity(unchecked) private var timerDeadline: Duration?
    @exclusivity(unchecked) private var buffer: [UInt8] = []
    @exclusivity(unchecked) private var closed = false

    /// Replies whose call was no longer waited for (cancelled, timed out, or settled by failover).
    private(set) var lateReplies = 0
    /// Frames from nodes that broke the protocol.
    private(set) var badFrames = 0
    /// Counts the nodes' state changes, when the system records metrics.
    private let nodeStates: NodeStateMetrics?

    /// Whether ``run()`` waits for the socket's descriptor now (see ``socketUsed()``).
    @exclusivity(unchecked) private var receiveLoopWaits = false
    /// Whether ``socketUsed()`` is reading now (what it handles may use the socket again).
    @exclusivity(unchecked) private var readingAfterUse = false
    /// Whether ``run()`` is reading now: then answers wait in `readAnswers`.
    @exclusivity(unchecked) private var runLoopReads = false
    /// Answers ``run()`` read in this turn, handed to their callers when it
    /// leaves the actor (see ``handOver()``).
    @exclusivity(unchecked) private var readAnswers: [(AnswerSlot, AttemptResult)] = []

    /// `service` is the service it calls, for metrics (``CallMetrics/instances``
    /// for a direct connection to the node of an actor instance).
    init(name: String, service: String, system: CortSystem) throws {
        self.name = name
        nodeStates = NodeStateMetrics(service: service, factory: system.configuration.metricsFactory)
        reactor = system.reactor
        clock = system.clock
        logger = system.logger
        limits = system.limits
        heartbeat = system.configuration.heartbeat
        callLimits = system.configuration.callLimits
        rateLimited = RateLimitedLog(logger: system.logger)
        curveKeys = system.configuration.security.keyPair
        socket = try ZeroMQSocket(.router, context: system.context, reactor: system.reactor)
        try socket.set(.routingID, Array("c:\(CortSystem.randomHex(16))".utf8))
        if let curveKeys {
            // The client half of CURVE; each connect names the server key it expects.
            try socket.set(.curvePublicKey, curveKeys.publicKey)
            try socket.set(.curveSecretKey, curveKeys.secretKey)
        }
        // A send to a connection libzmq no longer has fails (and the call is
        // moved) instead of vanishing.
        try socket.set(.routerMandatory, true)
        // No high-water mark: the calls queued per node are bounded by
        // `callLimits`, so a full pipe never drops or blocks a request.
        try socket.set(.sendHighWaterMark, 0)
        // Above the system's limit, so an answer over it is still read (its
        // header) and fails its call at once with `messageTooLarge`.
        try socket.set(.maxMessageSize, Int64(limits.hardMessageCap))
        // A connect to a node cut off by a partition is given up after one
        // heartbeat interval and made again after a quarter of one (at most
        // libzmq's default 100 ms; libzmq adds up to as much again): a node
        // whose link comes back is reached within 1.5 intervals, not at the
        // kernel's next SYN (1 s apart, 1, 3, 7 s… before Linux 6.5) or this
        // actor's next renewal of the connection (every `liveness` intervals).
        try socket.set(.connectTimeout, heartbeat.interval)
        try socket.set(.reconnectInterval, min(heartbeat.interval / 4, .milliseconds(100)))
        let eventsEndpoint = "inproc://cort-remote-service-\(CortSystem.randomHex(8))"
        try socket.monitor(eventsEndpoint, events: [.disconnected, .connectRetried, .handshakeSucceeded, .handshakeFailed])
        connectionEvents = try ZeroMQSocket(.pair, context: system.context, reactor: system.reactor)
        try connectionEvents.set(.receiveHighWaterMark, 0)
        try connectionEvents.connect(eventsEndpoint)
    }

    // MARK: Nodes

    /// Connects to new nodes and lets the ones that left drain.
    func update(nodes instances: [ServiceInstance]) {
        guard !closed else { return }
        discoveryFailure = nil
        let now = clock.now
        let incoming = Dictionary(instances.map { (Self.connectionKey($0), $0) }, uniquingKeysWith: { kept, _ in kept })
        for (key, node) in nodes where !node.leaving && incoming[key] == nil {
            nodes[key]?.leaving = true
            logger.debug("node left", metadata: ["cort.service": "\(name)", "cort.node": "\(key)"])
            disconnectIfDone(key)
        }
        unreachable = unreachable.filter { incoming[$0.key] != nil }
        for key in incoming.keys where nodes[key]?.leaving == true {
            // It came back before its last calls were settled.
            nodes[key]?.leaving = false
        }
        for (key, instance) in incoming where nodes[key] == nil {
            if let refusal = securityMismatch(instance) {
                if unreachable[key] == nil {
                    logger.warning("not connecting to a node", metadata: [
                        "cort.service": "\(name)", "cort.node": "\(key)", "cort.reason": "\(refusal.message)"])
                }
                unreachable[key] = refusal
                continue
            }
            do {
                let connection = try connect(instance)
                let node = Node(key: key, instance: instance, connection: connection,
                                health: NodeHealth(now: now, joiningFor: heartbeat.connectGrace))
                nodes[key] = node
                nodeByConnection[connection] = node
                mayHaveJoining = true
                unreachable.removeValue(forKey: key)
                logger.debug("node joined", metadata: ["cort.service": "\(name)", "cort.node": "\(key)"])
                // The ping waits in the connection until it is up; the pong makes the node live.
                ping(key, at: now)
            } catch {
                unreachable[key] = RemoteCallError(.transport, "cannot connect to node \(key)",
                                                   cause: error as? ZeroMQError ?? ZeroMQError(.other, "\(error)"))
                logger.warning("cannot connect to a node", metadata: [
                    "cort.service": "\(name)", "cort.node": "\(key)", "cort.error": "\(error)"])
            }
        }
        nodeOrder = nodes.filter { !$0.value.leaving }.keys.sorted()
        orderedNodes = nodeOrder.compactMap { nodes[$0] }
        hasNodeList = true
        wakeWaitersForRoom()
    }

    /// Discovery could not give a node list (Consul unreachable, a token it
    /// refuses): the last list stays in use, and calls that find no node say why.
    func discoveryFailed(_ error: any Error & Sendable) {
        discoveryFailure = error
        wakeWaitersForRoom()
    }

    /// ": <why discovery failed>", or nothing.
    private var discoveryCause: String {
        discoveryFailure.map { "; discovery failed: \(($0 as? DiscoveryError)?.message ?? "\($0)")" } ?? ""
    }

    /// A connection's key: the instance id, its endpoint and the key it
    /// publishes (ids have no spaces, Z85 has none): a node whose key was
    /// rotated is connected to anew, expecting the new key.
    private static func connectionKey(_ instance: ServiceInstance) -> String {
        let key = instance.metadata[ServiceInstance.curveKeyMetadataKey].map { " " + $0 } ?? ""
        return "\(instance.id) \(instance.endpoint)\(key)"
    }

    /// Why this system must not connect to `instance`, or nil: with CURVE, a
    /// node that publishes no valid key cannot be authenticated; in
    /// plaintext, a node that publishes one would refuse the connection.
    private func securityMismatch(_ instance: ServiceInstance) -> RemoteCallError? {
        let published = instance.metadata[ServiceInstance.curveKeyMetadataKey]
        if curveKeys != nil {
            guard published != nil else {
                return RemoteCallError(.transport, "node \(instance.id) at \(instance.endpoint) publishes no CURVE key "
                                       + "(\(ServiceInstance.curveKeyMetadataKey)), and this system requires CURVE")
            }
            guard instance.curvePublicKey != nil else {
                return RemoteCallError(.transport, "node \(instance.id) at \(instance.endpoint) publishes a CURVE key "
                                       + "that is not 40 characters of Z85")
            }
        } else if published != nil {
            return RemoteCallError(.transport, "node \(instance.id) at \(instance.endpoint) requires CURVE "
                                   + "(it publishes a key), and this system is plaintext")
        }
        return nil
    }

    /// Connects to `instance` under a new connection number.
    private func connect(_ instance: ServiceInstance) throws -> Int {
        connectionsMade += 1
        // Naming the peer before connecting lets the first frame be queued at
        // once; libzmq delivers it when the handshake is done.
        try socket.set(.connectRoutingID, Node.routingID(connectionsMade))
        if curveKeys != nil, let serverKey = instance.curvePublicKey {
            try socket.set(.curveServerKey, serverKey)
            // CURVE nodes hand no routing id over (it could be taken by
            // another caller): a new connection comes under a new id, so it is
            // not refused while the node still holds the old one.
            try socket.set(.routingID, Array("c:\(CortSystem.randomHex(16))".utf8))
        }
        try socket.connect(instance.endpoint)
        socketUsed()
        return connectionsMade
    }

    /// A call on `node` ended: one fewer in flight, and a leaving node
    /// whose last call it was is let go. The node itself, not its key: no lookup.
    private func callEnded(on node: Node) {
        totalInFlight -= 1
        node.inFlight -= 1
        node.health.releasedCall()
        if node.leaving { disconnectIfDone(node.key) }
        wakeWaiters(1)
    }

    private func disconnectIfDone(_ key: String) {
        guard let node = nodes[key], node.leaving, node.inFlight <= 0 else { return }
        nodes.removeValue(forKey: key)
        nodeByConnection.removeValue(forKey: node.connection)
        // libzmq disconnects every connection to an endpoint: keep it while a
        // newer connection (an instance restarted under a new id) uses it.
        if !nodes.values.contains(where: { $0.instance.endpoint == node.instance.endpoint }) {
            try? socket.disconnect(node.instance.endpoint)
            socketUsed()
        }
    }

    /// Drops the connections to a failed node's endpoint and makes new ones,
    /// discarding what was queued on them (pings, requests that never left),
    /// so a node that comes back never sees a stale request.
    private func reconnect(_ key: String) {
        guard let endpoint = nodes[key]?.instance.endpoint else { return }
        let sharing = nodes.filter { $0.value.instance.endpoint == endpoint }
        // libzmq drops every connection to the endpoint: not while one of them works.
        guard !sharing.values.contains(where: { $0.health.takesCalls }) else { return }
        try? socket.disconnect(endpoint)
        socketUsed()
        for (other, node) in sharing {
            nodeByConnection.removeValue(forKey: node.connection)
            if node.leaving {
                // Its calls were settled when it failed; nothing waits for it.
                nodes.removeValue(forKey: other)
                continue
            }
            do {
                let connection = try connect(node.instance)
                node.connection = connection
                node.handshaken = false
                nodeByConnection[connection] = node
            } catch {
                logger.warning("cannot reconnect to a node", metadata: [
                    "cort.service": "\(name)", "cort.node": "\(other)", "cort.error": "\(error)"])
            }
        }
        nodeOrder = nodes.filter { !$0.value.leaving }.keys.sorted()
        orderedNodes = nodeOrder.compactMap { nodes[$0] }
    }

    /// The node for the next call: under its ``JoiningShare`` before over
    /// it, live before suspect, with room before without, then the fewest
    /// calls in flight, round robin among equals. A call due at `deadline`
    /// that finds every node over its share waits for the joining nodes
    /// when it has the time (``JoiningShare/mayWait(deadline:joiningUntil:grace:)``).
    private func pickNode(avoiding refused: Set<String>, deadline: Duration) -> Pick {
        guard hasNodeList else { return .noNodeList }
        guard !nodeOrder.isEmpty else { return .noNodes }
        guard totalInFlight < callLimits.perService else { return .full }
        var share: Int?
        var mayWait = false
        if let joining = joiningNodes() {
            let ready = nodeOrder.reduce(0) { $0 + (nodes[$1]?.takesCalls == true ? 1 : 0) }
            share = JoiningShare.limit(calls: totalInFlight + callsAcquiring, ready: ready, joining: joining.count)
            mayWait = JoiningShare.mayWait(deadline: deadline, joiningUntil: joining.until, grace: heartbeat.connectGrace)
        }
        var best: Node?
        var bestRank = Int.max
        var bestLoad = Int.max
        var sawRoom = false
        var sawUsable = false
        var sawRefused = false
        for offset in 0..<orderedNodes.count {
            let node = orderedNodes[(nextNode + offset) % orderedNodes.count]
            guard node.takesCalls else { continue }
            guard refused.isEmpty || !refused.contains(node.key) else {
                sawRefused = true
                continue
            }
            sawUsable = true
            guard node.inFlight < callLimits.perNode else { continue }
            sawRoom = true
            let overShare = share.map { node.inFlight >= $0 } ?? false
            let rank = (overShare ? 4 : 0) + (node.health.state == .live ? 0 : 2) + (node.health.freeSlots == 0 ? 1 : 0)
            if rank < bestRank || (rank == bestRank && node.inFlight < bestLoad) {
                best = node
                bestRank = rank
                bestLoad = node.inFlight
            }
        }
        nextNode = (nextNode + 1) % nodeOrder.count
        if best != nil && bestRank >= 4 && mayWait { return .joining }
        if let best { return .node(best) }
        if sawUsable && !sawRoom { return .full }
        // A node about to answer may take what the others refused.
        if sawRefused { return share != nil && mayWait ? .joining : .allRefused }
        // A node whose handshake failed will not answer by waiting: say why
        // now, unless another node may still join.
        let now = clock.now
        if let failed = nodeOrder.lazy.compactMap({ self.nodes[$0]?.handshakeFailure }).first,
           !nodeOrder.contains(where: { key in
               guard let node = self.nodes[key] else { return false }
               return node.handshakeFailure == nil && !node.leaving && node.health.isJoining(at: now)
           }) {
            return .handshakeFailed(failed)
        }
        return .noneUsable
    }

    /// The nodes joining now (``NodeHealth/isJoining(at:)``): how many, and
    /// when the last one's grace ends; nil when there are none.
    private func joiningNodes() -> (count: Int, until: Duration)? {
        guard mayHaveJoining else { return nil }
        let now = clock.now
        var count = 0
        var until = now
        for key in nodeOrder {
            guard let node = nodes[key], !node.leaving, node.draining == nil, node.health.isJoining(at: now),
                  let end = node.health.joiningUntil else { continue }
            count += 1
            until = max(until, end)
        }
        guard count > 0 else {
            mayHaveJoining = false
            return nil
        }
        return (count, until)
    }

    // MARK: Calls

    /// Sends `request` to a node and waits for its answer until `deadline`,
    /// moving it to another node when ``Failover`` says so.
    ///
    /// Nonisolated: the caller's task enters this actor only to send each
    /// attempt (``sendAttempt(_:deadline:avoiding:lastRefusal:)``), and waits
    /// for the answer outside it, so an answer resumes the caller directly
    /// rather than through this actor's queue (a hop to another thread).
    ///
    /// `recordsValues`: whether the attempts of a call answered with a value
    /// are wanted (by interceptors); without them, such a call costs no
    /// array and no clock reading for its record. Errors always carry theirs.
    nonisolated func call(_ request: CallRequest, deadline: Duration, idempotent: Bool, recordsValues: Bool = true)
        async throws -> (answer: Answer, attempts: [CallAttempt]) {
        // Arguments over the limit on their own: refused before the actor is
        // entered and the envelope encoded (megabytes, held in the actor for
        // as long as that takes, while its heartbeats and answers wait).
        let argumentBytes = request.arguments.reduce(0) { $0 + $1.count }
        if argumentBytes > limits.maxEnvelopeBytes {
            throw RemoteCallError(.messageTooLarge, "\(request.method): the request's arguments have \(argumentBytes) bytes, "
                                  + "over the limit of \(limits.maxEnvelopeBytes)")
        }
        let started = clock.now
        var attempts: [CallAttempt] = []
        do {
            return (try await call(request, deadline: deadline, idempotent: idempotent, started: started,
                                   recordsValues: recordsValues, attempts: &attempts), attempts)
        } catch var error as RemoteCallError {
            // Whatever ended the call, the error says what each attempt did.
            error.attempts = attempts
            throw error
        }
    }

    private nonisolated func call(_ request: CallRequest, deadline: Duration, idempotent: Bool, started: Duration,
                                  recordsValues: Bool, attempts: inout [CallAttempt]) async throws -> Answer {
        var refusedBy: Set<String> = []
        var lastRefusal: CallFailure?
        while true {
            let sent = try await sendAttempt(request, deadline: deadline, avoiding: refusedBy, lastRefusal: lastRefusal)
            let result: AttemptResult
            switch sent.outcome {
            case .notSent:
                result = .notSent
            case .failed(let error):
                attempts.append(sent.record(.failed(error.code), callStarted: started, now: clock.now))
                throw error
            case .waiting(let id, let slot):
                do {
                    result = try await withTaskCancellationHandler {
                        try await slot.wait()
                    } onCancel: {
                        // Runs on the cancelling thread: a task takes the call out of the actor.
                        Task { await self.cancelCall(id) }
                    }
                } catch let error as RemoteCallError {
                    attempts.append(sent.record(.failed(error.code), callStarted: started, now: clock.now))
                    throw error
                }
            }
            let decision = Failover.decide(result.attempt, idempotent: idempotent, method: request.method, node: sent.node)
            if !recordsValues, case .deliver = decision, case .answered(.value(let bytes)) = result {
                return .value(bytes)
            }
            attempts.append(sent.record(result.outcome, callStarted: started, now: clock.now))
            switch decision {
            case .deliver:
                guard case .answered(let answer) = result else { continue }
                return answer
            case .tryAnotherNode:
                if case .answered(.failure(let refusal)) = result {
                    refusedBy.insert(sent.node)
                    lastRefusal = refusal
                    if refusal.code == .overloaded {
                        await nodeRefused(sent.node)
                    }
                }
                logger.debug("moving a call to another node", metadata: [
                    "cort.service": "\(name)", "cort.method": "\(request.method)", "cort.node": "\(sent.node)"])
            case .fail(let code, let message):
                throw RemoteCallError(code, message)
            }
        }
    }

    /// One attempt of a call, as ``sendAttempt(_:deadline:avoiding:lastRefusal:)`` left it.
    struct SentAttempt: Sendable {
        enum Outcome: Sendable {
            /// There was no connection under the node's name: the call never left.
            case notSent
            /// libzmq refused it (the attempt failed; the call fails with it).
            case failed(RemoteCallError)
            /// It is in flight; its answer comes in `slot`.
            case waiting(id: UInt64, slot: AnswerSlot)
        }
        let node: String
        /// When it was sent, on the system's clock.
        let at: Duration
        let outcome: Outcome

        /// What the call's error or result says of this attempt, ended `now`.
        func record(_ outcome: CallAttempt.Outcome, callStarted: Duration, now: Duration) -> CallAttempt {
            CallAttempt(node: node, outcome: outcome, startedAfter: at - callStarted, duration: now - at)
        }
    }

    /// Picks a node (waiting for one if need be), sends `request` to it and
    /// registers the call, in one turn of this actor: its answer cannot be
    /// read before the call is in `pending`.
    private func sendAttempt(_ request: CallRequest, deadline: Duration, avoiding refused: Set<String>,
                             lastRefusal: CallFailure?) async throws -> SentAttempt {
        let node = try await acquireNode(method: request.method, deadline: deadline,
                                         avoiding: refused, lastRefusal: lastRefusal)
        let now = clock.now
        if now >= deadline {
            throw RemoteCallError(.deadlineExceeded, "\(request.method): the deadline passed before the call was sent")
        }
        var request = request
        let id = callIDs.next()
        request.id = id
        request.timeout = deadline - now
        buffer.removeAll(keepingCapacity: true)
        WireCodec.encode(.request(request), into: &buffer)
        if buffer.count > limits.maxEnvelopeBytes {
            throw RemoteCallError(.messageTooLarge,
                                  "\(request.method): the request has \(buffer.count) bytes, over the limit of \(limits.maxEnvelopeBytes)")
        }
        // What was readable when the socket was used goes after the call is registered.
        defer { socketUsed() }
        let connection: Int
        do {
            guard let sentOn = try send(buffer, to: node, method: request.method) else {
                return SentAttempt(node: node.key, at: now, outcome: .notSent)
            }
            connection = sentOn
        } catch let error as RemoteCallError {
            return SentAttempt(node: node.key, at: now, outcome: .failed(error))
        }
        node.inFlight += 1
        node.health.tookCall()
        totalInFlight += 1
        let slot = AnswerSlot()
        pending[id] = PendingCall(slot: slot, node: node, connection: connection,
                                  method: request.method, deadline: deadline)
        schedule(deadline: deadline, id: id, waiter: false)
        return SentAttempt(node: node.key, at: now, outcome: .waiting(id: id, slot: slot))
    }

    /// A node refused a call for want of room: it counts as full until it says otherwise.
    private func nodeRefused(_ key: String) {
        nodes[key]?.health.full()
    }

    /// A node that may take the call now, waiting (until `deadline`) when the
    /// only reason there is none may pass: no node list yet, no node live
    /// yet, (when ``CallLimits/whenFull`` says wait) every node full, or
    /// every node that takes calls holds its share while others join.
    private func acquireNode(method: String, deadline: Duration, avoiding refused: Set<String>,
                             lastRefusal: CallFailure?) async throws -> Node {
        callsAcquiring += 1
        defer { callsAcquiring -= 1 }
        while true {
            if closed { throw RemoteCallError(.shuttingDown, "the actor system is shut down") }
            let pick = pickNode(avoiding: refused, deadline: deadline)
            switch pick {
            case .node(let node):
                return node
            case .noNodes:
                if let lastRefusal { throw RemoteCallError(lastRefusal.code, lastRefusal.message) }
                if let (_, error) = unreachable.min(by: { $0.key < $1.key }) {
                    throw RemoteCallError(error.code, "\(method): \(error.message)", cause: error.cause)
                }
                throw RemoteCallError(.noNodes, "discovery knows no node for \(name)\(discoveryCause)",
                                      cause: discoveryFailure)
            case .allRefused:
                let refusal = lastRefusal ?? CallFailure(code: .overloaded, message: "every node refused the call")
                throw RemoteCallError(refusal.code, refusal.message)
            case .full where callLimits.whenFull == .failFast:
                throw RemoteCallError(.overloaded, "\(method): every node of \(name) is full "
                                      + "(\(totalInFlight) calls in flight); the call was not sent")
            case .handshakeFailed(let reason):
                throw RemoteCallError(.transport, "\(method): \(reason)")
            case .full, .noNodeList, .noneUsable, .joining:
                break
            }
            do {
                try await waitForChange(deadline: deadline)
            } catch is WaitExpired {
                // Nodes that failed while the call waited are the reason now;
                // otherwise it is what the call waited for.
                switch pickNode(avoiding: refused, deadline: deadline) {
                case .node, .full: throw timeoutWhileWaiting(pick, method: method)
                case let now: throw timeoutWhileWaiting(now, method: method)
                }
            }
        }
    }

    private func timeoutWhileWaiting(_ pick: Pick, method: String) -> RemoteCallError {
        switch pick {
        case .noNodeList:
            return RemoteCallError(.noNodes, "discovery reported no node list for \(name) before the deadline\(discoveryCause)",
                                   cause: discoveryFailure)
        case .full:
            return RemoteCallError(.overloaded, "\(method): every node of \(name) stayed full "
                                   + "(\(totalInFlight) calls in flight) until the deadline; the call was not sent")
        default:
            let states = nodeOrder.prefix(5).compactMap { key in
                nodes[key].map { "\(key) (\($0.draining != nil ? "draining" : $0.health.state.description))" }
            }
            return RemoteCallError(.noNodes, "\(method): no node of \(name) could take the call before the deadline: "
                                   + states.joined(separator: ", "))
        }
    }

    /// Hands the request to libzmq and returns the connection it went out
    /// on; nil when there is no connection under the node's name (the call
    /// never left, so any other node may take it). The caller calls
    /// ``socketUsed()`` after.
    private func send(_ envelope: [UInt8], to node: Node, method: String) throws -> Int? {
        let key = node.key
        var message = ZeroMQMessage(frameCapacity: 2)
        message.append(node.routingID)
        message.append(envelope)
        do {
            if try socket.trySend(&message) { return node.connection }
            // No high-water mark is set, so libzmq never says the pipe is
            // full; if it did, the node counts as full until it says it has
            // room, and the call waits for a node or goes to another: never dropped.
            node.health.full()
            return nil
        } catch let error as ZeroMQError where error.code == .hostUnreachable {
            connectionGone(key)
            return nil
        } catch let error as ZeroMQError {
            throw RemoteCallError(.transport, "\(method): cannot send to node \(key)", cause: error)
        }
    }

    /// Call it before ``callEnded(on:)``, which may forget a leaving node.
    private func sendCancel(_ id: UInt64, to node: String) {
        // Best effort: a node that cannot be told stops the work at its deadline.
        _ = try? sendControl(.cancel(id: id), to: node)
    }

    /// Sends a small frame of the protocol (cancel, ping) to a node without
    /// waiting; false when the node is unknown or its pipe is full.
    private func sendControl(_ envelope: Envelope, to key: String) throws -> Bool {
        guard let routingID = nodes[key]?.routingID else { return false }
        var bytes: [UInt8] = []
        WireCodec.encode(envelope, into: &bytes)
        var message = ZeroMQMessage(frameCapacity: 2)
        message.append(routingID)
        message.append(bytes)
        defer { socketUsed() }
        return try socket.trySend(&message)
    }

    private func cancelCall(_ id: UInt64) {
        guard let call = pending.removeValue(forKey: id) else { return }
        sendCancel(id, to: call.node.key)
        callEnded(on: call.node)
        call.slot.resume(throwing: RemoteCallError(.cancelled, "\(call.method): the caller was cancelled"))
    }

    private func cancelWait(_ id: UInt64) {
        guard let waiter = waiters.removeValue(forKey: id) else { return }
        waiter.continuation.resume(throwing: RemoteCallError(.cancelled, "a call to \(name) was cancelled while it waited for a node"))
    }

    // MARK: Waiting for a node

    private func waitForChange(deadline: Duration) async throws {
        nextWaiterID &+= 1
        let id = nextWaiterID
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                if Task.isCancelled {
                    continuation.resume(throwing: RemoteCallError(.cancelled, "a call to \(name) was cancelled while it waited for a node"))
                    return
                }
                waiters[id] = Waiter(continuation: continuation, deadline: deadline)
                waitOrder.append(id)
                schedule(deadline: deadline, id: id, waiter: true)
            }
        } onCancel: {
            Task { await self.cancelWait(id) }
        }
    }

    /// Lets as many waiting calls look for a node again as the usable nodes have room for.
    private func wakeWaitersForRoom() {
        guard !waiters.isEmpty else { return }
        var room = 0
        for node in nodes.values where node.takesCalls {
            room += max(callLimits.perNode - node.inFlight, 0)
        }
        room = min(room, max(callLimits.perService - totalInFlight, 0))
        // A call that must fail at once (no node at all) needs only one look.
        wakeWaiters(max(room, nodeOrder.isEmpty ? waiters.count : 0))
    }

    /// Lets up to `count` waiting calls look for a node again, oldest first.
    private func wakeWaiters(_ count: Int) {
        var woken = 0
        while woken < count, let id = waitOrder.popFirst() {
            guard let waiter = waiters.removeValue(forKey: id) else { continue }
            waiter.continuation.resume()
            woken += 1
        }
    }

    // MARK: Heartbeats

    private func ping(_ key: String, at now: Duration) {
        guard nodes[key] != nil else { return }
        nextPingSequence &+= 1
        do {
            _ = try sendControl(.ping(sequence: nextPingSequence), to: key)
            nodes[key]?.health.pinged(at: now, configuration: heartbeat)
        } catch let error as ZeroMQError where error.code == .hostUnreachable {
            connectionGone(key)
        } catch {
            logger.debug("cannot ping a node", metadata: ["cort.service": "\(name)", "cort.node": "\(key)", "cort.error": "\(error)"])
        }
        noteWakeup(of: key)
    }

    private func connectionGone(_ key: String) {
        let change = nodes[key]?.health.unroutable(at: clock.now, configuration: heartbeat)
        apply(change, to: key)
        if change != nil { reconnect(key) }
        noteWakeup(of: key)
    }

    /// Pings quiet nodes, declares silent ones dead, renews dead connections.
    private func heartbeatTick() {
        // Frames may wait in the socket while this reactor is busy (a flood of
        // calls): read them first, so a node is judged by what it sent, not
        // by how far behind this caller is.
        for _ in 0..<100_000 {
            guard let message = try? socket.tryReceive() else { break }
            handle(message)
        }
        socketUsed()
        let now = clock.now
        // Pings go out only from here: whatever kept this from running when
        // it was due (a stopped process, a starved thread pool) kept the
        // nodes from being asked, so it is not their silence.
        let due = heartbeatDue ?? now
        heartbeatDue = nil
        if now - due >= heartbeat.deadAfter {
            // Worth an operator's look: without the rule above, this pause
            // would have failed its nodes; a caller that stalls this long
            // also delays its callers' answers and finds failed nodes late.
            rateLimited.log(.notice, "caller-paused", "this caller's heartbeats ran late; its nodes are not blamed for the pause",
                            metadata: ["cort.service": "\(name)", "cort.pause": "\(now - due)"], at: now)
        }
        var stoppedJoining = false
        for key in Array(nodes.keys) {
            if due < now { nodes[key]?.health.heartbeatRanLate(due: due, at: now, configuration: heartbeat) }
            guard let actions = nodes[key]?.health.tick(at: now, configuration: heartbeat) else { continue }
            apply(actions.change, to: key)
            if actions.reconnect { reconnect(key) }
            if actions.ping, nodes[key] != nil { ping(key, at: now) }
            noteWakeup(of: key)
            stoppedJoining = stoppedJoining || actions.stoppedJoining
        }
        // Calls that waited for a node that did not answer in its grace go to the others.
        if stoppedJoining { wakeWaitersForRoom() }
    }

    private func apply(_ change: NodeHealth.Change?, to key: String) {
        guard let change else { return }
        switch change {
        case .connected:
            nodeStates?.changed(to: .connected)
            logger.debug("node is live", metadata: ["cort.service": "\(name)", "cort.node": "\(key)"])
            wakeWaitersForRoom()
        case .revived:
            nodeStates?.changed(to: .revived)
            rateLimited.log(.debug, "node-revived", "node is live again",
                            metadata: ["cort.service": "\(name)", "cort.node": "\(key)"], at: clock.now)
            wakeWaitersForRoom()
        case .died(let reason):
            nodeStates?.changed(to: .dead)
            let lost = pending.filter { $0.value.node.key == key }
            // A node that dies and comes back in a loop must not flood the log.
            rateLimited.log(.warning, "node-failed", "node failed", metadata: [
                "cort.service": "\(name)", "cort.node": "\(key)", "cort.reason": "\(reason)",
                "cort.calls_in_flight": "\(lost.count)"], at: clock.now)
            for (id, call) in lost {
                pending.removeValue(forKey: id)
                callEnded(on: call.node)
                call.slot.resume(returning: .nodeFailed(reason))
            }
        }
    }

    private func noteWakeup(of key: String) {
        guard let wakeup = nodes[key]?.health.nextWakeup(configuration: heartbeat) else { return }
        if let due = heartbeatDue, due <= wakeup { return }
        heartbeatDue = wakeup
        armTimer()
    }

    // MARK: Timer (deadlines and heartbeats)

    private func schedule(deadline: Duration, id: UInt64, waiter: Bool) {
        deadlines.insert(.init(deadline: deadline, id: id, waiter: waiter))
        // Calls that ended before their deadline leave their entries behind.
        deadlines.compact(live: pending.count + waiters.count) { entry in
            entry.waiter ? waiters[entry.id] != nil : pending[entry.id] != nil
        }
        armTimer()
    }

    private func armTimer() {
        guard !closed else { return }
        let next: Duration
        switch (deadlines.earliest, heartbeatDue) {
        case (let deadline?, let due?): next = min(deadline, due)
        case (let deadline?, nil): next = deadline
        case (nil, let due?): next = due
        case (nil, nil): return
        }
        if let armed = timerDeadline, armed <= next { return }
        timer?.cancel()
        timerDeadline = next
        let clock = self.clock
        // Its work (expiring deadlines, pings, reading what waits) runs on
        // the reactor, as the receive loop's does, rather than beside the
        // callers' own tasks on the global pool.
        timer = Task(executorPreference: reactor.taskExecutor) {
            do {
                try await clock.sleep(until: next)
            } catch {
                return  // re-armed for an earlier time, or closed
            }
            guard !Task.isCancelled else { return }
            await self.timerFired()
        }
    }

    private func timerFired() {
        timerDeadline = nil
        expireDue()
        if let due = heartbeatDue, due <= clock.now {
            heartbeatTick()
        }
        armTimer()
    }

    private func expireDue() {
        let now = clock.now
        for first in deadlines.popExpired(at: now) {
            if first.waiter {
                waiters.removeValue(forKey: first.id)?.continuation.resume(throwing: WaitExpired())
            } else if let call = pending.removeValue(forKey: first.id) {
                sendCancel(first.id, to: call.node.key)
                callEnded(on: call.node)
                call.slot.resume(throwing: RemoteCallError(
                    .deadlineExceeded, "\(call.method): no answer from node \(call.node.key) before the deadline"))
            }
        }
    }

    // MARK: Frames from nodes

    /// Receives answers and hands them to their callers until the reactor
    /// stops. Run it in a task that prefers the reactor
    /// (`Task(executorPreference: reactor.taskExecutor)`): then what arrives
    /// is read there, with no hop to the global pool.
    func run() async {
        let descriptor: Int32
        do {
            descriptor = try socket.get(.descriptor)
        } catch {
            logger.warning("the remote service cannot receive", metadata: ["cort.service": "\(name)", "cort.error": "\(error)"])
            return
        }
        while !closed {
            var handled = 0
            do {
                runLoopReads = true
                defer {
                    runLoopReads = false
                    handOver()
                }
                while handled < NodeServer.framesPerTurn, let message = try socket.tryReceive() {
                    handle(message)
                    handled += 1
                }
            } catch {
                if !closed {
                    logger.warning("the remote service stopped receiving", metadata: ["cort.service": "\(name)", "cort.error": "\(error)"])
                }
                return
            }
            do {
                if handled == NodeServer.framesPerTurn {
                    // A node that floods this caller must not keep its timers
                    // (deadlines, heartbeats) and its callers' sends from running.
                    await reactor.yieldTurn(isolation: self)
                    continue
                }
                receiveLoopWaits = true
                defer { receiveLoopWaits = false }
                try await reactor.waitUntilReadable(descriptor, isolation: self)
            } catch {
                if !closed && !(error is CancellationError) {
                    logger.warning("the remote service stopped receiving", metadata: ["cort.service": "\(name)", "cort.error": "\(error)"])
                }
                return
            }
        }
    }

    /// Resumes the callers whose answers ``run()`` read, after this turn.
    ///
    /// On the reactor, through its queue: the job runs once ``run()`` has
    /// left the actor, so a caller that goes on to its next call finds the
    /// actor free and sends on its own thread. Resumed at once, it would
    /// find the actor still taken, queue up behind ``run()``, and its send
    /// would run on the reactor, then hop back to the global pool.
    private func handOver() {
        guard !readAnswers.isEmpty else { return }
        guard reactor.isOnReactorThread else {
            for (slot, result) in readAnswers { slot.resume(returning: result) }
            readAnswers.removeAll(keepingCapacity: true)
            return
        }
        if readAnswers.count == 1 {
            // The common case at one call in flight: the closure's context
            // is the only allocation, and the array keeps its storage.
            let (slot, result) = readAnswers[0]
            readAnswers.removeAll(keepingCapacity: true)
            reactor.execute { slot.resume(returning: result) }
        } else {
            var taken: [(AnswerSlot, AttemptResult)] = []
            swap(&taken, &readAnswers)
            let answers = taken
            reactor.execute {
                for (slot, result) in answers { slot.resume(returning: result) }
            }
        }
    }

    /// Reads what this actor's own use of the socket left unsignalled.
    ///
    /// While ``run()`` waits, the reactor polls the socket's descriptor,
    /// which signals only commands libzmq has not processed yet; a send, a
    /// connect or a receive here processes them, so an answer they brought
    /// is read here, on the caller's thread, or it would wait for the next
    /// signal. A receive that finds nothing leaves the descriptor to signal
    /// the next one. At most one turn of frames is read here; a task reads the rest.
    private func socketUsed() {
        guard receiveLoopWaits, !readingAfterUse else { return }
        readingAfterUse = true
        defer { readingAfterUse = false }
        for _ in 0..<NodeServer.framesPerTurn {
            guard let message = try? socket.tryReceive() else { return }
            handle(message)
        }
        Task(executorPreference: reactor.taskExecutor) { await self.socketUsed() }
    }

    /// Settles the calls of nodes whose connection dropped, and stops
    /// waiting for joining nodes that cannot be connected to, until the
    /// reactor stops.
    func watchConnections() async {
        while !closed {
            let message: ZeroMQMessage
            do {
                message = try await connectionEvents.receiveOffReactor()
            } catch {
                return
            }
            guard let event = try? MonitorEvent(message) else { continue }
            // libzmq names the endpoint as it resolved it; cort's are literal
            // addresses, so they match. A name that does not match is left to
            // the heartbeats (and, for a joining node, to its grace).
            switch event.event {
            case .disconnected:
                for (key, node) in nodes where node.instance.endpoint == event.endpoint && node.health.takesCalls {
                    logger.debug("connection dropped", metadata: ["cort.service": "\(name)", "cort.node": "\(key)"])
                    connectionGone(key)
                }
            case .connectRetried:
                var stoppedJoining = false
                for (key, node) in nodes where node.instance.endpoint == event.endpoint {
                    guard nodes[key]?.health.connectFailed() == true else { continue }
                    logger.debug("cannot connect to a joining node yet", metadata: ["cort.service": "\(name)", "cort.node": "\(key)"])
                    stoppedJoining = true
                }
                // Calls that waited for it go to the nodes that answered.
                if stoppedJoining { wakeWaitersForRoom() }
            case .handshakeSucceeded:
                for (key, node) in nodes where node.instance.endpoint == event.endpoint {
                    handshakeSucceeded(key)
                }
            case .handshakeFailedNoDetail, .handshakeFailedProtocol, .handshakeFailedAuth:
                for (key, node) in nodes where node.instance.endpoint == event.endpoint && !node.handshaken {
                    handshakeFailed(key, event)
                }
            default:
                continue
            }
        }
    }

    /// The handshake of a node's connection completed: what is sent on it
    /// now may arrive, and a failure before it is forgotten.
    private func handshakeSucceeded(_ key: String) {
        guard nodes[key]?.handshaken == false else { return }
        nodes[key]?.handshaken = true
        if nodes[key]?.handshakeFailure != nil {
            nodes[key]?.handshakeFailure = nil
            rateLimited.log(.debug, "handshake-ok", "the handshake with a node succeeded again",
                            metadata: ["cort.service": "\(name)", "cort.node": "\(key)"], at: clock.now)
            wakeWaitersForRoom()
        }
    }

    /// The handshake of a node's connection failed, none having succeeded
    /// on it: nothing sent on that connection reached the node, so its calls
    /// may go to another node, and while it fails no call waits for it.
    /// With CURVE this is a node whose key is not the one discovery gave, or
    /// that does not allow this caller's key (libzmq keeps trying, and a
    /// handshake that succeeds later lets calls go to it again).
    private func handshakeFailed(_ key: String, _ event: MonitorEvent) {
        guard let node = nodes[key] else { return }
        let reason: String
        switch event.event {
        case .handshakeFailedAuth:
            reason = "node \(node.instance.id) at \(node.instance.endpoint) refused this caller's key "
                + "(the handshake failed: the node does not allow it)"
        case .handshakeFailedProtocol:
            reason = "the handshake with node \(node.instance.id) at \(node.instance.endpoint) failed: "
                + "it broke the protocol (libzmq protocol error \(event.value))"
        default:
            reason = curveKeys != nil
                ? "the CURVE handshake with node \(node.instance.id) at \(node.instance.endpoint) failed: the node "
                    + "closed the connection (its key is not the one discovery published, or it does not use CURVE)"
                : "the handshake with node \(node.instance.id) at \(node.instance.endpoint) failed: the node "
                    + "closed the connection (it may require CURVE)"
        }
        let first = node.handshakeFailure == nil
        nodes[key]?.handshakeFailure = reason
        _ = nodes[key]?.health.connectFailed()
        if first {
            logger.warning("handshake with a node failed", metadata: [
                "cort.service": "\(name)", "cort.node": "\(key)", "cort.reason": "\(reason)"])
        }
        let unsent = pending.filter { $0.value.node.key == key && $0.value.connection == node.connection }
        for (id, call) in unsent {
            pending.removeValue(forKey: id)
            callEnded(on: call.node)
            call.slot.resume(returning: .notSent)
        }
        // Calls waiting for it go elsewhere, or fail with the reason: all look again.
        wakeWaiters(waiters.count)
    }

    private func handle(_ message: consuming ZeroMQMessage) {
        let now = clock.now
        guard message.count == 2 else {
            badFrames += 1
            rateLimited.log(.debug, "frame-count", "dropped a message with \(message.count) frames",
                            metadata: ["cort.service": "\(name)"], at: now)
            return
        }
        let connection = message.withFrame(at: 0) { Self.connectionNumber($0) }
        // The node itself, not its key: one hash of an Int a frame, none of a String.
        guard let node = nodeByConnection[connection] else {
            // A connection renewed since: what it still delivers is stale.
            lateReplies += 1
            return
        }
        let key = node.key
        if !node.handshaken { handshakeSucceeded(key) }
        apply(node.health.heard(at: now, configuration: heartbeat), to: key)
        let decoded: Envelope
        do {
            decoded = try message.withFrame(at: 1) { (bytes) throws(WireError) in try WireCodec.decode(bytes, limits: limits) }
        } catch {
            badFrames += 1
            rateLimited.log(.debug, "malformed-answer", "dropped a malformed answer", metadata: [
                "cort.service": "\(name)", "cort.node": "\(key)", "cort.error": "\(error.message)"], at: now)
            // An answer to a call in flight on this connection that cannot be
            // read fails that call now, rather than at its deadline.
            if let id = error.id {
                settle(id, with: .failure(CallFailure(
                    code: error.code, message: "the answer of node \(key) cannot be read: \(error.message)")),
                       from: connection)
            }
            return
        }
        switch decoded {
        case .reply(let id, let result):
            settle(id, with: .value(result), from: connection)
        case .failure(let id, let failure):
            settle(id, with: .failure(failure), from: connection)
        case .pong(_, let freeSlots, let incarnation):
            if let draining = nodes[key]?.draining, draining != incarnation {
                // Another incarnation answers: the node restarted and takes calls again.
                nodes[key]?.draining = nil
                wakeWaitersForRoom()
            }
            let changes = nodes[key]?.health.pong(freeSlots: Int(freeSlots), incarnation: incarnation, at: now,
                                                  configuration: heartbeat) ?? []
            for change in changes { apply(change, to: key) }
        case .draining(let incarnation):
            guard nodes[key] != nil, nodes[key]?.draining == nil else { return }
            nodes[key]?.draining = incarnation
            nodeStates?.changed(to: .draining)
            // A node may say it drains, then answer as a new incarnation, again and again.
            rateLimited.log(.debug, "node-draining", "node is draining",
                            metadata: ["cort.service": "\(name)", "cort.node": "\(key)"], at: clock.now)
        case .ping, .request, .cancel, .describe, .description:
            badFrames += 1
        }
    }

    /// The number in a routing id `n<number>`, or -1.
    private static func connectionNumber(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard bytes.count > 1, bytes.count <= 19, bytes[0] == UInt8(ascii: "n") else { return -1 }
        var number = 0
        for byte in bytes.dropFirst() {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return -1 }
            number = number * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return number
    }

    /// Hands `answer` to the call `id`, if it is in flight on `connection`:
    /// a node answers only the calls sent to it.
    private func settle(_ id: UInt64, with answer: Answer, from connection: Int) {
        guard let call = pending[id], call.connection == connection else {
            lateReplies += 1
            return
        }
        pending.removeValue(forKey: id)
        callEnded(on: call.node)
        if runLoopReads {
            readAnswers.append((call.slot, .answered(answer)))
        } else {
            call.slot.resume(returning: .answered(answer))
        }
    }

    /// Fails every waiting call and stops receiving.
    func close() {
        closed = true
        timer?.cancel()
        try? socket.stopMonitoring()
        let calls = pending
        pending.removeAll()
        for call in calls.values {
            call.slot.resume(throwing: RemoteCallError(.shuttingDown, "\(call.method): the actor system shut down"))
        }
        let waiting = waiters
        waiters.removeAll()
        waitOrder.removeAll()
        for waiter in waiting.values {
            waiter.continuation.resume(throwing: RemoteCallError(.shuttingDown, "the actor system shut down"))
        }
    }
}
