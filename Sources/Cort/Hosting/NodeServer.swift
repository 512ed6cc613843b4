import CortMessagePack
import CortZeroMQ
import Distributed
import Logging
import Synchronization

/// A node's side: one bound ROUTER that serves every hosted service, each on
/// its own ``WorkerPool`` of replicas, behind an intake that no caller can
/// monopolize.
///
/// It runs on its system's reactor: a request is read, checked and admitted
/// on the reactor thread; waiting calls are queued per caller and handed to
/// the service's pool round robin as workers free up; the worker runs the
/// method; the answer comes back here to be sent on the same ROUTER.
///
/// What a caller can make the node hold is bounded (see ``NodeLimits``):
/// the calls it has waiting (its share of each service's queue), the
/// answers waiting in libzmq for it (bytes and messages), its place in the
/// table of callers, and how long its calls may run. A caller whose
/// connection drops (it died, left, or its heartbeats stopped) has its
/// waiting calls dropped and its running calls cancelled at once.
actor NodeServer {
    /// One replica of a hosted service, as a pool's worker owns it.
    struct Replica: Sendable {
        let actor: any DistributedActor
        /// Its type's generated dispatch (`@CortService`), if it has one.
        let dispatch: ReplicaDispatch?
    }

    /// (Its actor type and access rules are its lane's: ``Lane``.)
    struct HostedService {
        let lane: Int
        let pool: WorkerPool<Replica>
        let running: Task<Void, Never>
        let instance: ServiceInstance
        /// Lists the hosted type's distributed methods (read once, on the first `describe`).
        let listMethods: @Sendable () -> [MethodDescription]
    }

    /// Where a lane's calls run.
    enum LaneWork {
        /// On a hosted service's pool of replicas.
        case pool(WorkerPool<Replica>, workers: Int)
        /// Each in a task of its own, on the actor instance it names.
        case instances
    }

    /// The calls of one hosted service (or of every actor instance): a fair
    /// queue in front of a bounded number running.
    struct Lane {
        let name: String
        let work: LaneWork
        /// The hosted type, as `String(reflecting:)` names it; empty for the
        /// lane of actor instances, whose calls name their own.
        let actorType: String
        /// Who may call which methods of its service.
        let access: ServiceAccess
        /// The hooks its calls run through (the system's, then the service's).
        let interceptors: InterceptorChain<any ServerInterceptor>
        /// Whether ``interceptors`` had anything to do when last asked, and
        /// when (the node's clock). See ``interceptors(at:)``.
        var interceptorsChecked: (active: Bool, at: Duration)?
        var queue: FairQueue<QueuedCall, PeerTable.Ref>
        var inFlight = 0
        let maxInFlight: Int
        /// Its load and refusals, when the node records metrics.
        let metrics: NodeMetrics.Lane?
        /// The load last recorded (``NodeServer/recordLoad(of:)``).
        var recordedLoad = (waiting: 0, busy: 0)
        /// The last targets of this lane the node ran (at most
        /// ``recentTargetLimit``), found by comparing names, which are
        /// mostly the same strings (``RecentNames``): the catalog hashes both
        /// names under a lock on every look-up (about 900 instructions a call).
        var recentTargets: [TargetCatalog.Target] = []

        static let recentTargetLimit = 8

        /// How long the answer of ``interceptors(at:)`` stands.
        static let interceptorsCheckInterval = Duration.milliseconds(10)

        /// The interceptors a call started at `now` runs through: none when
        /// only cort's own are there and they have nothing to record to.
        /// Asking that (`InterceptorChain.isActive`) reads the bootstrapped
        /// metrics factory and instrument under their locks, about 1,200
        /// instructions a call (callgrind, 64 in flight), so the answer
        /// stands for ``interceptorsCheckInterval``: a metrics or tracing
        /// backend bootstrapped while the node runs is used from at most
        /// that much later.
        mutating func interceptors(at now: Duration) -> InterceptorChain<any ServerInterceptor> {
            let active: Bool
            if let checked = interceptorsChecked, now >= checked.at, now - checked.at < Self.interceptorsCheckInterval {
                active = checked.active
            } else {
                active = interceptors.isActive
                interceptorsChecked = (active, now)
            }
            return active ? interceptors : .init([])
        }

        /// `identifier` of `actorType`, if it is among the recent targets.
        func recentTarget(_ identifier: String, on actorType: String) -> TargetCatalog.Target? {
            for target in recentTargets where target.identifier == identifier && target.actorType == actorType {
                return target
            }
            return nil
        }

        /// Keeps `target` among the recent ones once the node can run it
        /// directly (the runtime ran it once: ``TargetCatalog/confirm(_:)``).
        mutating func remember(_ target: TargetCatalog.Target) {
            guard target.dispatch != nil else { return }
            if recentTargets.count == Self.recentTargetLimit { recentTargets.removeFirst() }
            recentTargets.append(target)
        }

        /// Calls handed to the pool that wait there for a worker: they count
        /// against the queue's capacity as those in the fair queue do.
        var handedOn: Int {
            guard case .pool(_, let workers) = work else { return 0 }
            return max(0, inFlight - workers)
        }
    }

    struct CallKey: Hashable {
        let peer: PeerTable.Ref
        let id: UInt64

        /// The peer's slot and the id, not its generation as well: one round
        /// of the hasher fewer, and a call looks its key up about five times.
        /// Only a departed peer's calls, being dropped, share a live one's
        /// slot; equality still tells them apart.
        func hash(into hasher: inout Hasher) {
            hasher.combine(peer.slot)
            hasher.combine(id)
        }
    }

    /// A call being run, so a cancel frame can stop it.
    enum RunningCall {
        case pooled(WorkerPool<Replica>.Ticket)
        case direct(Task<Void, Never>)

        func cancel() {
            switch self {
            case .pooled(let ticket): ticket.cancel()
            case .direct(let task): task.cancel()
            }
        }
    }

    /// A call the intake accepted: waiting in its lane, or running.
    ///
    /// A class: the node's ``CallTable`` holds it, the pump takes it to
    /// start it and the intake marks it running, each through one
    /// reference. As a struct every one of those copied its six references
    /// through the struct's value witnesses (about 400 instructions a call
    /// at 64 in flight, callgrind), for the price of one allocation here.
    final class AcceptedCall {
        let request: CallRequest
        let target: TargetCatalog.Target
        let lane: Int
        let deadline: Duration
        let routingID: [UInt8]
        /// With CURVE, the caller's public key.
        let callerKey: CurveKey?
        /// When the intake took it, on the node's clock.
        let acceptedAt: Duration
        let instanceActor: (any DistributedActor)?
        var running: RunningCall?
        /// Its caller cancelled it or left: nobody reads an answer.
        var silenced = false

        init(request: CallRequest, target: TargetCatalog.Target, lane: Int, deadline: Duration, routingID: [UInt8],
             callerKey: CurveKey?, acceptedAt: Duration, instanceActor: (any DistributedActor)?) {
            self.request = request
            self.target = target
            self.lane = lane
            self.deadline = deadline
            self.routingID = routingID
            self.callerKey = callerKey
            self.acceptedAt = acceptedAt
            self.instanceActor = instanceActor
        }
    }

    /// What the node has counted, for tests and metrics.
    struct Counters: Sendable {
        var requests = 0
        var replies = 0
        var errorAnswers = 0
        var badFrames = 0
        var cancelled = 0
        var ignoredFrames = 0
        /// Calls refused by the intake as `overloaded` (a full queue, pushed
        /// out by a fairer caller, a caller over its bounds).
        var refused = 0
        /// Calls dropped without an answer because their caller left or stopped reading.
        var abandoned = 0
        /// Answers not handed to libzmq because their caller stopped reading.
        var droppedAnswers = 0
        /// Callers whose connection dropped while they had calls.
        var departedCallers = 0
        /// Frames that came over a connection already closed.
        var lateFrames = 0
        /// Requests dropped unanswered because their caller does not read its answers.
        var shedRequests = 0
        /// Calls refused as `permissionDenied`: a revoked key, or a service's access rules.
        var denied = 0
        /// With CURVE, frames without a caller key (none should get past the ZAP handler).
        var unauthenticated = 0
        /// Batch frames received (each of several envelopes).
        var batches = 0
    }

    let endpoint: String
    /// A random number for this run of the node, sent in pongs and the
    /// draining frame, so callers can tell a restarted node from the old one.
    let incarnation = UInt64.random(in: 1...UInt64.max)
    let system: CortSystem
    /// Reads calls' arguments; its `userInfo` holds the system (made once:
    /// a dictionary per call is an allocation per call).
    let argumentDecoder: MessagePackDecoder
    let reactor: ZeroMQReactor
    let socket: ZeroMQSocket
    /// The ROUTER's monitor: accepted and dropped connections.
    let connectionEvents: ZeroMQSocket
    let logger: Logger
    let limits: WireLimits
    let nodeLimits: NodeLimits
    /// With CURVE, the callers this node lets in; nil in plaintext.
    let allowList: CallerAllowList?
    // The state every call touches, several times each, is not checked for
    // exclusivity at run time (`@exclusivity(unchecked)`): the actor's
    // isolation already keeps other threads out, the runtime's check sees
    // overlaps on one thread only, and the checks cost about 4,000
    // instructions a call on the node (callgrind).
    @exclusivity(unchecked) var services: [String: HostedService] = [:]
    /// Each hosted service's lane, by name: what a call looks up (the lane
    /// holds what admitting it needs), without copying a service's entry.
    @exclusivity(unchecked) var serviceLanes: [String: Int] = [:]
    /// The service a request named last and its lane. A caller's requests
    /// name their service with one string (the codec's ``RecentNames``),
    /// which compares equal at once, where a look-up hashes it (about 300
    /// instructions a call, callgrind). Cleared when a lane goes.
    @exclusivity(unchecked) var lastServiceLane: (service: String, lane: Int)?
    /// Each hosted type's distributed methods, once a caller asked.
    var methodLists: [String: [MethodDescription]] = [:]
    /// Lane 0 takes the calls addressed to actor instances; each hosted service has its own.
    @exclusivity(unchecked) var lanes: [Lane]
    @exclusivity(unchecked) var calls = CallTable()
    @exclusivity(unchecked) var peers: PeerTable
    @exclusivity(unchecked) var epochs = ConnectionEpochs()
    var rateLimited: RateLimitedLog
    /// The names in recent requests, read without an allocation when seen again.
    let recentNames = RecentNames()
    var draining = false
    /// Tasks waiting for the node to have no call accepted (a drain, tests).
    var idleWaiters: [CheckedContinuation<Void, Never>] = []
    @exclusivity(unchecked) var counters = Counters()
    /// What the node records through swift-metrics; nil when there is no backend.
    let metrics: NodeMetrics?
    /// Calls back from the workers, for ``answerFinishedCalls()``.
    let finishedCalls = Mutex(FinishedCalls())
    /// The calls ``answerFinishedCalls()`` answers now (its storage kept between batches).
    @exclusivity(unchecked) var finishedBatch: [PooledCall] = []
    /// Their answers to callers that read batches, gathered while it runs.
    @exclusivity(unchecked) var answerBatches = AnswerBatches()

    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }

    init(system: CortSystem, endpoint requested: String) throws {
        self.system = system
        argumentDecoder = system.argumentDecoder()
        reactor = system.reactor
        logger = system.logger
        limits = system.limits
        nodeLimits = system.configuration.nodeLimits
        allowList = system.configuration.security.allowedCallers
        peers = PeerTable(capacity: nodeLimits.maxCallers)
        rateLimited = RateLimitedLog(logger: system.logger)
        let metrics = NodeMetrics(factory: system.configuration.metricsFactory)
        self.metrics = metrics
        lanes = [Lane(name: "actor instances", work: .instances, actorType: "", access: .anyAllowedCaller,
                      interceptors: InterceptorChain(system.configuration.serverChain),
                      queue: FairQueue(capacity: system.configuration.queueCapacity,
                                       byteCapacity: nodeLimits.queuedRequestBytes),
                      maxInFlight: nodeLimits.instanceCallsInFlight, metrics: metrics?.lane(CallMetrics.instances))]
        // The linger lets the last answers of a drain leave before the socket closes.
        socket = try ZeroMQSocket(.router, context: system.context, reactor: system.reactor, linger: .seconds(2))
        try socket.set(.routerMandatory, true)
        if let keys = system.configuration.security.keyPair {
            // CURVE: libzmq asks the system's ZAP handler (bound before this
            // socket) about every client, and it lets in only allowed keys.
            try socket.set(.zapDomain, ZAPHandler.domain)
            try socket.set(.curveServer, true)
            try socket.set(.curveSecretKey, keys.secretKey)
            // No handover: libzmq hands a routing id over before it knows
            // the new connection's key, so another allowed caller could take
            // over a caller's id and read its answers. cort's callers connect
            // under a fresh id each time instead (see RemoteService.connect).
        } else {
            // A caller back from a network partition reconnects under its routing
            // id while this side still holds its old connection (no FIN came):
            // the new connection takes the id, else it would never be read.
            try socket.set(.routerHandover, true)
        }
        // Messages per caller that may wait in libzmq (the bytes are bounded
        // by `NodeLimits.answerBytesPerCaller`); only a caller that stopped
        // reading gets near it.
        try socket.set(.sendHighWaterMark, 4096)
        // And in the kernel: what waits there is out of the node's sight, so
        // the less, the sooner a caller that does not read is found out.
        if let bytes = nodeLimits.socketSendBuffer {
            try socket.set(.sendBuffer, Int32(clamping: bytes))
        }
        // Above this libzmq drops the peer before cort sees the message; below
        // it, an envelope over `maxEnvelopeBytes` is answered with an error.
        try socket.set(.maxMessageSize, Int64(limits.hardMessageCap))
        // libzmq pings every caller's connection and drops one that stays
        // silent (a caller that froze, or a link that went down without a
        // word): the monitor then reports it, and its calls are stopped.
        let heartbeat = system.configuration.heartbeat
        try socket.set(.heartbeatInterval, heartbeat.interval)
        try socket.set(.heartbeatTimeout, heartbeat.deadAfter)
        let eventsEndpoint = "inproc://cort-node-\(CortSystem.randomHex(8))"
        try socket.monitor(eventsEndpoint, events: [.accepted, .disconnected])
        connectionEvents = try ZeroMQSocket(.pair, context: system.context, reactor: system.reactor)
        // Unbounded: a lost event would leave a departed caller's calls running.
        try connectionEvents.set(.receiveHighWaterMark, 0)
        try connectionEvents.connect(eventsEndpoint)
        let bound: String
        do {
            bound = try socket.bind(Self.zeroMQEndpoint(requested))
        } catch {
            throw ConfigurationError(.cannotServe, "cannot serve on \(requested): \(error)", cause: error as? ZeroMQError)
        }
        endpoint = bound
    }

    /// `tcp://host:0` in cort's configuration is libzmq's `tcp://host:*`.
    static func zeroMQEndpoint(_ endpoint: String) -> String {
        endpoint.hasSuffix(":0") ? String(endpoint.dropLast()) + "*" : endpoint
    }

    // MARK: Hosting

    func host<Act: DistributedActor>(
        _ name: String, replicas: Int, queueCapacity: Int, executor: ReplicaExecutor, access: ServiceAccess,
        interceptors: [any ServerInterceptor], actorType: Act.Type,
        make: @escaping @Sendable (CortSystem) async throws -> Act
    ) async throws where Act.ActorSystem == CortSystem {
        guard !name.isEmpty else { throw ConfigurationError(.invalidServiceName, "a service needs a name") }
        guard name.utf8.count <= limits.maxNameBytes else {
            throw ConfigurationError(.invalidServiceName, "a service name has at most \(limits.maxNameBytes) bytes")
        }
        guard services[name] == nil else {
            throw ConfigurationError(.duplicateService, "this node already hosts a service named \(name)")
        }
        guard !draining else { throw ConfigurationError(.shutDown, "the node is shutting down; it hosts nothing more") }
        let system = self.system
        // The pool holds a call per worker waiting beside each running one,
        // so a worker that finishes takes the next without waiting for the
        // reactor; the rest wait in the lane's fair queue.
        let pool = try WorkerPool<Replica>(
            configuration: .init(workers: replicas, queueCapacity: 2 * replicas),
            // The system's own clock: a call's deadline on the node is then
            // the pool's as it is, with no reading of the pool's clock.
            runtimeClock: system.clock,
            taskExecutor: executor.runsOnReactor ? reactor.taskExecutor : nil,
            // A replica with a generated dispatch has its worker's loop run
            // on it: a call then enters the replica once, when its worker
            // takes it, and calls the method there without a switch.
            isolation: { $0.dispatch?.isolation }
        ) { [dispatchKeys = ReplicaDispatch.keys(of: Act.self)] index in
            let actor = try await CortSystem.$replicaName.withValue((name, index)) { try await make(system) }
            return Replica(actor: actor, dispatch: await ReplicaDispatch.of(actor, keys: dispatchKeys))
        }
        let logger = self.logger
        let running = Task {
            do {
                try await pool.runUntilShutdown()
            } catch {
                logger.error("a hosted service's pool stopped", metadata: ["cort.service": "\(name)", "cort.error": "\(error)"])
            }
        }
        var metadata = ["cort_protocol": "\(WireFormat.version)"]
        // Callers connect only to nodes whose key discovery vouches for.
        if let key = system.configuration.security.publicKey {
            metadata[ServiceInstance.curveKeyMetadataKey] = key.z85
        }
        let instance = ServiceInstance(
            service: name, id: "\(name)@\(system.configuration.name)-\(CortSystem.randomHex(4))",
            endpoint: endpoint, tags: [], metadata: metadata)
        let lane = lanes.count
        lanes.append(Lane(name: name, work: .pool(pool, workers: replicas), actorType: String(reflecting: Act.self),
                          access: access, interceptors: InterceptorChain(interceptors),
                          queue: FairQueue(capacity: queueCapacity, byteCapacity: nodeLimits.queuedRequestBytes),
                          maxInFlight: 2 * replicas, metrics: metrics?.lane(name)))
        serviceLanes[name] = lane
        services[name] = HostedService(lane: lane, pool: pool, running: running, instance: instance,
                                       listMethods: { DistributedMethods.of(Act.self) })
        do {
            try await system.configuration.discovery.register(instance)
        } catch {
            services.removeValue(forKey: name)
            serviceLanes.removeValue(forKey: name)
            lastServiceLane = nil
            pool.shutdown()
            throw error
        }
        logger.debug("hosting", metadata: [
            "cort.service": "\(name)", "cort.replicas": "\(replicas)", "cort.executor": "\(executor)", "cort.endpoint": "\(endpoint)"])
    }

    // MARK: Receiving

    /// Serves until the system shuts down: reads requests, and the monitor's
    /// reports of connections that come and go.
    func run() async {
        // Calls whose workers finished are answered in a job on the reactor
        // (one per batch), not by a task resumed for them.
        let answer = AnswerJob { [self] in self.onLoop { $0.answerFinishedCalls() } }
        finishedCalls.withLock { $0.answer = answer }
        await withDiscardingTaskGroup { group in
            group.addTask { await self.receiveFrames() }
            group.addTask { await self.watchConnections() }
        }
        // Nothing is answered after this; the closure let go of the node.
        finishedCalls.withLock { $0.answer = nil }
    }

    /// Reads requests until the node's task is cancelled: the reactor's loop
    /// reads the socket itself, on its thread, and hands each frame to
    /// ``handle(_:)`` there (``readTurn()``). A wake-up costs no task resumed
    /// and no wait set up again, where a receiving task cost both (about
    /// 5,000 instructions a wake-up, callgrind).
    private func receiveFrames() async {
        do {
            try await reactor.read(socket, isolation: self) { [self] in self.onLoop { $0.readTurn() } }
        } catch {
            logger.debug("the node stopped receiving", metadata: ["cort.error": "\(error)"])
        }
    }

    /// Reads and handles up to ``framesPerTurn`` frames, or
    /// ``envelopesPerTurn`` envelopes counting each entry of a batch, on the
    /// reactor's thread: more would keep the loop from the workers' answers,
    /// timers and the monitor under a flood (the reactor calls this again
    /// after them).
    func readTurn() -> ZeroMQReactor.ReaderTurn {
        var envelopes = 0
        for _ in 0..<Self.framesPerTurn {
            let message: ZeroMQMessage
            do {
                guard let queued = try socket.tryReceive() else { return .drained }
                message = queued
            } catch {
                logger.debug("the node stopped receiving", metadata: ["cort.error": "\(error)"])
                return .stop
            }
            // Every connection event queued before this frame was read must
            // be applied first, to tell which connection the frame came over
            // (see ConnectionEpochs).
            applyConnectionEvents()
            envelopes += handle(message)
            if envelopes >= Self.envelopesPerTurn { break }
        }
        return .more
    }

    /// Runs `body` isolated to this actor, from code the reactor's loop runs
    /// between jobs (a reader's turn, a closure job): on the loop's thread,
    /// nothing else isolated to the reactor runs meanwhile.
    ///
    /// `assumeIsolated` does the same, generically: its result goes through
    /// reabstraction, two allocations a turn (callgrind, one call in flight).
    /// Checked the same way (the thread), then called as it does. One for a
    /// turn and one without a result: a turn's result set in a variable by a
    /// body without one cost two allocations a turn as well (the variable
    /// and the closure, boxed for `withoutActuallyEscaping`).
    nonisolated func onLoop(_ body: (isolated NodeServer) -> ZeroMQReactor.ReaderTurn) -> ZeroMQReactor.ReaderTurn {
        precondition(reactor.isOnReactorThread, "a node's turn ran off its reactor's thread")
        return withoutActuallyEscaping(body) { body in
            unsafeBitCast(body, to: ((NodeServer) -> ZeroMQReactor.ReaderTurn).self)(self)
        }
    }

    /// ``onLoop(_:)`` for work without a result.
    nonisolated func onLoop(_ body: (isolated NodeServer) -> Void) {
        precondition(reactor.isOnReactorThread, "a node's job ran off its reactor's thread")
        withoutActuallyEscaping(body) { body in
            unsafeBitCast(body, to: ((NodeServer) -> Void).self)(self)
        }
    }

    /// How many frames the node reads before it lets the reactor's other work run.
    static let framesPerTurn = 16
    /// How many envelopes (a batch's entries each counting one) the node
    /// reads before it lets the reactor's other work run.
    static let envelopesPerTurn = 64

    /// How often a caller that does not read its answers has one of its
    /// requests refused with an answer, to see whether it reads again; its
    /// other requests are dropped unanswered.
    static let notReadingProbeInterval = Duration.milliseconds(10)

    /// Handles one message; how many envelopes it held (a batch's entries,
    /// else one).
    private func handle(_ message: consuming ZeroMQMessage) -> Int {
        let now = system.clock.now
        guard message.count == 2 else {
            counters.badFrames += 1
            metrics?.badFrame(.frameCount)
            rateLimited.log(.debug, "frame-count", "a message with \(message.count) frames", at: now)
            if message.count >= 1 {
                answer(.failure(id: 0, CallFailure(
                    code: .protocolError,
                    message: "a cort message has one envelope frame after the routing id, this one had \(message.count - 1)")),
                    to: message.frame(at: 0), peer: nil)
            }
            return 1
        }
        let descriptor = message.sourceDescriptor(at: 1)
        let (routingID, knownConnection) = message.withFrame(at: 0) { epochs.frame(routingID: $0, on: descriptor) }
        var connection: PeerTable.Connection?
        if let known = knownConnection {
            guard known.isOpen else {
                // Its caller's connection is gone: nobody would read an answer.
                counters.lateFrames += 1
                return 1
            }
            connection = known.connection
        }
        var peer = peers.heard(routingID, on: connection, at: now)
        var sender = Sender(routingID: routingID, peer: nil, key: nil, allowed: true)
        if let allowList {
            guard let (key, isAllowed) = authenticate(message, peer: &peer, routingID: routingID,
                                                      connection: connection, allowList: allowList, at: now) else {
                counters.unauthenticated += 1
                metrics?.badFrame(.unauthenticated)
                return 1
            }
            (sender.key, sender.allowed) = (key, isAllowed)
        }
        sender.peer = peer
        guard message.withFrame(at: 1, { WireBatch.isBatch($0) }) else {
            handleEnvelope(in: message, at: nil, from: sender, at: now)
            return 1
        }
        let batch = message.withFrame(at: 1) { WireBatch.read($0, limits: limits) }
        counters.batches += 1
        if let peer { peers.setReadsBatches(for: peer) }
        guard let fault = batch.error else {
            for entry in batch.entries {
                handleEnvelope(in: message, at: entry, from: sender, at: now)
            }
            return batch.entries.count
        }
        // Nothing in a malformed batch runs; the calls it names are told why.
        counters.badFrames += 1
        metrics?.badFrame(.malformedEnvelope)
        rateLimited.log(.debug, "malformed-batch", "a malformed batch",
                        metadata: ["cort.error": "\(fault.message)"], at: now)
        answer(.failure(id: 0, CallFailure(code: fault.code, message: "malformed batch: \(fault.message)")),
               to: routingID, peer: peer)
        for header in message.withFrame(at: 1, { batch.headers(in: $0) }) where header.kind == .request {
            counters.requests += 1
            answer(.failure(id: header.id, CallFailure(
                code: .protocolError, message: "the batch this request came in is malformed (\(fault.message)); the call did not run")),
                   to: routingID, peer: peer)
        }
        return max(batch.entries.count, 1)
    }

    /// Who sent a message, as ``handle(_:)`` found out once for all its envelopes.
    private struct Sender {
        let routingID: [UInt8]
        var peer: PeerTable.Ref?
        /// With CURVE, the caller's key.
        var key: CurveKey?
        /// With CURVE, whether its key is still in the allow-list.
        var allowed: Bool
    }

    /// Handles the envelope in frame 1 of `message`, or in its bytes `entry`
    /// (one entry of a batch, where only requests and cancels belong).
    private func handleEnvelope(in message: borrowing ZeroMQMessage, at entry: Range<Int>?, from sender: Sender,
                                at now: Duration) {
        let (routingID, peer) = (sender.routingID, sender.peer)
        if let peer, peers.isNotReading(peer),
           message.withFrame(at: 1, { WireCodec.kind(of: WireBatch.bytes(of: entry, in: $0)) })
            == .request,
           peers.sheds(peer, at: now, probingEvery: Self.notReadingProbeInterval) {
            // A caller that does not read its answers gets no more work, and
            // no refusal it would not read either: its requests cost the
            // others only their reading, not decoding and answering.
            counters.requests += 1
            counters.refused += 1
            counters.shedRequests += 1
            metrics?.refused(.shed)
            return
        }
        let envelope: Envelope
        do {
            envelope = try message.withFrame(at: 1) { (bytes) throws(WireError) in
                try WireCodec.decode(WireBatch.bytes(of: entry, in: bytes), limits: limits, names: recentNames)
            }
        } catch {
            counters.badFrames += 1
            metrics?.badFrame(.malformedEnvelope)
            rateLimited.log(.debug, "malformed-envelope", "a malformed envelope",
                            metadata: ["cort.error": "\(error.message)"], at: now)
            answer(.failure(id: error.id ?? 0, CallFailure(code: error.code, message: error.message)),
                   to: routingID, peer: peer)
            return
        }
        switch envelope {
        case .request(let request):
            counters.requests += 1
            guard sender.allowed else {
                // Its key was taken out of the allow-list after it connected.
                counters.denied += 1
                metrics?.denied.increment()
                answer(.failure(id: request.id, CallFailure(
                    code: .permissionDenied, message: "this caller's key is no longer allowed; the call did not run")),
                       to: routingID, peer: peer)
                return
            }
            admit(request, from: routingID, peer: peer, callerKey: sender.key, at: now)
        case .cancel(let id):
            if let peer { cancel(CallKey(peer: peer, id: id)) }
        case _ where entry != nil:
            // A batch carries requests and cancels only.
            counters.badFrames += 1
            metrics?.badFrame(.malformedEnvelope)
            rateLimited.log(.debug, "malformed-batch", "a batch entry that is not a request or a cancel", at: now)
            answer(.failure(id: envelope.id, CallFailure(
                code: .protocolError, message: "a batch carries requests and cancels; this entry is another kind")),
                   to: routingID, peer: peer)
        case .ping(let sequence) where !sender.allowed:
            // A revoked caller learns nothing of the node's load. While calls
            // it made before are still running it is told the node lives (no
            // free slots), so it waits for their answers instead of calling
            // their outcome unknown; after that its pings go unanswered.
            if let peer, let entry = peers[peer], entry.callCount > 0 {
                answer(.pong(sequence: sequence, freeSlots: 0, incarnation: incarnation), to: routingID, peer: peer)
            } else {
                counters.ignoredFrames += 1
            }
        case .ping(let sequence):
            answer(.pong(sequence: sequence, freeSlots: UInt32(clamping: draining ? 0 : freeSlots()),
                         incarnation: incarnation), to: routingID, peer: peer)
        case .describe where !sender.allowed:
            counters.ignoredFrames += 1
        case .describe(let sequence):
            answer(.description(sequence: sequence, services: describe(for: sender.key)), to: routingID, peer: peer)
        case .reply, .failure, .pong, .draining, .description:
            counters.ignoredFrames += 1
        }
    }

    /// The services `caller` may call, and of each the methods it may call
    /// (every one in plaintext, where no service has access rules).
    private func describe(for caller: CurveKey?) -> [ServiceDescription] {
        services.sorted { $0.key < $1.key }.compactMap { name, service in
            let (actorType, access) = (lanes[service.lane].actorType, lanes[service.lane].access)
            let methods = methodLists[actorType] ?? {
                let methods = service.listMethods()
                methodLists[actorType] = methods
                return methods
            }()
            let allowed = methods.filter { access.allows(caller, method: $0.name) }
            guard !allowed.isEmpty || access.allows(caller, method: "") else { return nil }
            return ServiceDescription(name: name, actorType: actorType, methods: allowed)
        }
    }

    /// The caller key of a frame on a CURVE node, and whether the allow-list
    /// lets it in now; nil for a frame without a key (it is dropped).
    ///
    /// A caller's key is read from the frame's `User-Id` (what the ZAP
    /// handler named it) and kept with the caller, so a frame costs a
    /// comparison of 40 bytes; the allow-list is asked again only when it
    /// changed. A routing id that arrives with another key than before is
    /// another caller: the first one's calls are stopped, and its answers
    /// never go to the second.
    private func authenticate(
        _ message: borrowing ZeroMQMessage, peer: inout PeerTable.Ref?, routingID: [UInt8],
        connection: PeerTable.Connection?, allowList: CallerAllowList, at now: Duration
    ) -> (CurveKey, Bool)? {
        let generation = allowList.generation
        if let known = peer, var identity = peers.identity(of: known) {
            let same = message.withProperty("User-Id", at: 1) { property in
                property.map { bytes in identity.userID.withUnsafeBytes { bytesEqual($0, bytes) } } ?? false
            }
            if same {
                if identity.checkedGeneration != generation {
                    identity.allowed = allowList.contains(identity.key)
                    identity.checkedGeneration = generation
                    peers.setIdentity(identity, for: known)
                }
                return (identity.key, identity.allowed)
            }
            callerLeft(known)
            peer = peers.heard(routingID, on: connection, at: now)
        }
        guard let userID = message.withProperty("User-Id", at: 1, { $0.map { Array($0) } }),
              userID.count == 40, let key = try? CurveKey(z85: String(decoding: userID, as: UTF8.self)) else {
            return nil
        }
        let identity = PeerTable.CallerKey(userID: userID, key: key, allowed: allowList.contains(key),
                                           checkedGeneration: generation)
        if let peer { peers.setIdentity(identity, for: peer) }
        return (key, identity.allowed)
    }

    /// How much the node holds now, for tests of its bounds.
    struct Snapshot: Sendable {
        /// Callers remembered.
        var callers: Int
        /// Calls accepted (waiting or running).
        var calls: Int
        /// Calls waiting in the fair queues.
        var waiting: Int
        /// Calls handed to workers (running or about to).
        var inFlight: Int
        /// Answer bytes waiting in libzmq.
        var answerBytes: Int
        /// Targets remembered as checked.
        var knownTargets: Int
    }

    var snapshot: Snapshot {
        Snapshot(callers: peers.count, calls: calls.count, waiting: lanes.reduce(0) { $0 + $1.queue.count },
                 inFlight: lanes.reduce(0) { $0 + $1.inFlight }, answerBytes: peers.totalLedger.outstanding,
                 knownTargets: system.targets.count)
    }

    /// Calls the node can take now over its services: idle workers and free places in the queues.
    private func freeSlots() -> Int {
        lanes.dropFirst().reduce(0) { total, lane in
            guard case .pool(_, let workers) = lane.work else { return total }
            let idle = max(0, workers - lane.inFlight)
            return total + idle + max(0, lane.queue.capacity - lane.queue.count)
        }
    }
}

/// What a method run on this node did, ready to be answered.
enum CallOutcome: Sendable {
    case returned([UInt8]?)
    case failed(CallFailure)
}
