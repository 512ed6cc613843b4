import CortZeroMQ
import Distributed
import Logging

/// A node's side: one bound ROUTER that serves every hosted service, each on
/// its own ``WorkerPool`` of replicas.
///
/// It runs on its system's reactor: a request is read, checked and handed to
/// the service's pool on the reactor thread; the worker runs it; the answer
/// comes back here to be sent on the same ROUTER.
actor NodeServer {
    /// One replica of a hosted service, as a pool's worker owns it.
    struct Replica: Sendable {
        let actor: any DistributedActor
    }

    private struct HostedService {
        let pool: WorkerPool<Replica>
        let running: Task<Void, Never>
        let actorType: String
        let instance: ServiceInstance
    }

    private struct CallKey: Hashable {
        let peer: [UInt8]
        let id: UInt64
    }

    /// What the node has counted, for tests and metrics.
    struct Counters: Sendable {
        var requests = 0
        var replies = 0
        var errorAnswers = 0
        var badFrames = 0
        var cancelled = 0
        var ignoredFrames = 0
    }

    let endpoint: String
    /// A random number for this run of the node, sent in pongs and the
    /// draining frame, so callers can tell a restarted node from the old one.
    let incarnation = UInt64.random(in: 1...UInt64.max)
    private let system: CortSystem
    private let reactor: ZeroMQReactor
    private let socket: ZeroMQSocket
    private let logger: Logger
    private let limits: WireLimits
    private var services: [String: HostedService] = [:]
    /// A call being run, so a cancel frame can stop it.
    private enum RunningCall {
        case pooled(WorkerPool<Replica>.Ticket)
        case direct(Task<Void, Never>)

        func cancel() {
            switch self {
            case .pooled(let ticket): ticket.cancel()
            case .direct(let task): task.cancel()
            }
        }
    }

    private var running: [CallKey: RunningCall] = [:]
    /// The callers heard from, and when, so a draining node can tell them.
    private var peers: [[UInt8]: Duration] = [:]
    private var peersAtLastPrune = 64
    private var draining = false
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    private var buffer: [UInt8] = []
    private(set) var counters = Counters()

    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }

    init(system: CortSystem, endpoint requested: String) throws {
        self.system = system
        reactor = system.reactor
        logger = system.logger
        limits = system.limits
        // The linger lets the last answers of a drain leave before the socket closes.
        socket = try ZeroMQSocket(.router, context: system.context, reactor: system.reactor, linger: .seconds(2))
        try socket.set(.routerMandatory, true)
        // A caller back from a network partition reconnects under its routing
        // id while this side still holds its old connection (no FIN came):
        // the new connection takes the id, else it would never be read.
        try socket.set(.routerHandover, true)
        // Callers bound their calls in flight per node (CallLimits), so this
        // is only reached by a caller that stopped reading its answers.
        try socket.set(.sendHighWaterMark, 16_384)
        // Above this libzmq drops the peer before cort sees the message; below
        // it, an envelope over `maxEnvelopeBytes` is answered with an error.
        try socket.set(.maxMessageSize, Int64(limits.hardMessageCap))
        let bound: String
        do {
            bound = try socket.bind(Self.zeroMQEndpoint(requested))
        } catch {
            throw RemoteCallError(.transport, "cannot serve on \(requested)", cause: error as? ZeroMQError)
        }
        endpoint = bound
    }

    /// `tcp://host:0` in cort's configuration is libzmq's `tcp://host:*`.
    static func zeroMQEndpoint(_ endpoint: String) -> String {
        endpoint.hasSuffix(":0") ? String(endpoint.dropLast()) + "*" : endpoint
    }

    // MARK: Hosting

    func host<Act: DistributedActor>(
        _ name: String, replicas: Int, queueCapacity: Int, executor: ReplicaExecutor, actorType: Act.Type,
        make: @escaping @Sendable (CortSystem) async throws -> Act
    ) async throws where Act.ActorSystem == CortSystem {
        guard !name.isEmpty else { throw RemoteCallError(.unknownTarget, "a service needs a name") }
        guard services[name] == nil else {
            throw RemoteCallError(.unknownTarget, "this node already hosts a service named \(name)")
        }
        guard !draining else { throw RemoteCallError(.shuttingDown, "the node is shutting down") }
        let system = self.system
        let pool = try WorkerPool<Replica>(
            configuration: .init(workers: replicas, queueCapacity: queueCapacity),
            clock: system.configuration.clock,
            taskExecutor: executor.runsOnReactor ? reactor.taskExecutor : nil
        ) { index in
            let actor = try await CortSystem.$replicaName.withValue((name, index)) { try await make(system) }
            return Replica(actor: actor)
        }
        let logger = self.logger
        let running = Task {
            do {
                try await pool.run()
            } catch {
                logger.error("a hosted service's pool stopped", metadata: ["service": "\(name)", "error": "\(error)"])
            }
        }
        let instance = ServiceInstance(
            service: name, id: "\(name)@\(system.configuration.name)-\(CortSystem.randomHex(4))",
            endpoint: endpoint, tags: [], metadata: ["cort_protocol": "\(WireFormat.version)"])
        services[name] = HostedService(pool: pool, running: running, actorType: String(reflecting: Act.self),
                                       instance: instance)
        do {
            try await system.configuration.discovery.register(instance)
        } catch {
            services.removeValue(forKey: name)
            pool.shutdown()
            throw error
        }
        logger.info("hosting", metadata: [
            "service": "\(name)", "replicas": "\(replicas)", "executor": "\(executor)", "endpoint": "\(endpoint)"])
    }

    // MARK: Receiving

    /// Serves until the system shuts down.
    func run() async {
        while true {
            let message: ZeroMQMessage
            do {
                message = try await socket.receive()
            } catch {
                if !(error is CancellationError) {
                    logger.debug("the node stopped receiving", metadata: ["error": "\(error)"])
                }
                return
            }
            handle(message)
        }
    }

    private func handle(_ message: consuming ZeroMQMessage) {
        guard message.count == 2 else {
            counters.badFrames += 1
            logger.debug("a message with \(message.count) frames", metadata: ["endpoint": "\(endpoint)"])
            if message.count >= 1 {
                answer(message.frame(at: 0), .failure(id: 0, CallFailure(
                    code: .protocolError,
                    message: "a cort message has one envelope frame after the routing id, this one had \(message.count - 1)")))
            }
            return
        }
        let peer = message.frame(at: 0)
        notePeer(peer)
        let envelope: Envelope
        do {
            envelope = try message.withFrame(at: 1) { (bytes) throws(WireError) in
                try WireCodec.decode(bytes, limits: limits)
            }
        } catch {
            counters.badFrames += 1
            logger.debug("a malformed envelope", metadata: ["error": "\(error.message)"])
            answer(peer, .failure(id: error.id ?? 0, CallFailure(code: error.code, message: error.message)))
            return
        }
        switch envelope {
        case .request(let request):
            counters.requests += 1
            start(request, from: peer)
        case .cancel(let id):
            if let call = running[CallKey(peer: peer, id: id)] {
                counters.cancelled += 1
                call.cancel()
            }
        case .ping(let sequence):
            answer(peer, .pong(sequence: sequence, freeSlots: UInt32(clamping: draining ? 0 : freeSlots()),
                               incarnation: incarnation))
        case .reply, .failure, .pong, .draining:
            counters.ignoredFrames += 1
        }
    }

    private func freeSlots() -> Int {
        services.values.reduce(0) { $0 + $1.pool.load.freeSlots }
    }

    private func start(_ request: CallRequest, from peer: [UInt8]) {
        func refuse(_ code: RemoteCallError.Code, _ message: String) {
            answer(peer, .failure(id: request.id, CallFailure(code: code, message: message)))
        }
        if draining {
            return refuse(.shuttingDown, "\(request.method): the node is shutting down")
        }
        // A call to one actor instance (a reference that was passed around)
        // runs on that actor; a call to a service runs on its pool.
        let pool: WorkerPool<Replica>?
        let instanceActor: (any DistributedActor)?
        let actorType: String
        if let instance = request.actor {
            guard let actor = system.localActor(instance: instance) else {
                return refuse(.unknownTarget, "this node has no actor \(instance)")
            }
            (pool, instanceActor, actorType) = (nil, actor, String(reflecting: type(of: actor)))
        } else {
            guard let service = services[request.service] else {
                return refuse(.unknownTarget, "this node hosts no service named \(request.service)")
            }
            (pool, instanceActor, actorType) = (service.pool, nil, service.actorType)
        }
        guard system.target(request.target, belongsTo: actorType) else {
            return refuse(.unknownTarget, "\(request.method) is not a method of \(actorType)")
        }
        guard request.timeout > .zero else {
            return refuse(.deadlineExceeded, "\(request.method): the deadline had passed when the request arrived")
        }
        let key = CallKey(peer: peer, id: request.id)
        guard running[key] == nil else {
            return refuse(.protocolError, "call id \(request.id) is already running for this caller")
        }
        let system = self.system
        if let pool {
            // Handed to the pool from the reactor without a task of its own;
            // the worker's completion comes straight back to the reactor.
            do {
                let ticket = try pool.tryEnqueue(timeout: request.timeout, { replica in
                    await system.execute(request, on: replica.actor)
                }, completion: { [self] result in
                    let outcome: CallOutcome
                    switch result {
                    case .success(let value):
                        outcome = value
                    case .failure(let error as WorkerPoolError):
                        outcome = .failed(CallFailure(workerPoolError: error, method: request.method))
                    case .failure:
                        outcome = .failed(CallFailure(code: .cancelled, message: "\(request.method): cancelled by the caller"))
                    }
                    reactor.execute { self.assumeIsolated { $0.finish(key, outcome) } }
                })
                running[key] = .pooled(ticket)
            } catch let error as WorkerPoolError {
                answer(peer, .failure(id: request.id, CallFailure(workerPoolError: error, method: request.method)))
            } catch {
                refuse(.remoteApplicationError, "\(request.method): \(error)")
            }
            return
        }
        guard let instanceActor else {
            return refuse(.unknownTarget, "\(request.method): no target")
        }
        let task = Task {
            let outcome: CallOutcome
            do {
                outcome = try await system.execute(request, on: instanceActor, timeout: request.timeout)
            } catch let error as RemoteCallError {
                outcome = .failed(CallFailure(code: error.code, message: error.message))
            } catch {
                outcome = .failed(CallFailure(code: .cancelled, message: "\(request.method): cancelled by the caller"))
            }
            self.finish(key, outcome)
        }
        running[key] = .direct(task)
    }

    private func finish(_ key: CallKey, _ outcome: CallOutcome) {
        running.removeValue(forKey: key)
        switch outcome {
        case .returned(let bytes):
            counters.replies += 1
            answer(key.peer, .reply(id: key.id, result: bytes))
        case .failed(let failure):
            answer(key.peer, .failure(id: key.id, failure))
        }
        if draining && running.isEmpty {
            let waiters = drainWaiters
            drainWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    private func answer(_ peer: [UInt8], _ envelope: Envelope) {
        if case .failure = envelope { counters.errorAnswers += 1 }
        buffer.removeAll(keepingCapacity: true)
        WireCodec.encode(envelope, into: &buffer)
        var message = ZeroMQMessage(frameCapacity: 2)
        message.append(peer)
        message.append(buffer)
        do {
            if try socket.trySend(&message) { return }
            // The caller's pipe is full: it stopped reading. Its call fails at
            // its deadline; the node does not block everyone else for it.
            logger.warning("an answer could not be sent: the caller's queue is full")
        } catch {
            // hostUnreachable: the caller is gone; nobody waits for this answer.
            logger.debug("an answer could not be sent", metadata: ["error": "\(error)"])
        }
    }

    /// Remembers a caller; callers silent for ten minutes are forgotten once
    /// the table has doubled since it was last pruned.
    private func notePeer(_ peer: [UInt8]) {
        let now = system.clock.now
        peers[peer] = now
        if peers.count >= peersAtLastPrune * 2 {
            peers = peers.filter { now - $0.value < .seconds(600) }
            peersAtLastPrune = max(peers.count, 64)
        }
    }

    // MARK: Draining

    /// Stops taking calls, deregisters the services, finishes the calls in
    /// flight, and stops the pools.
    func drain() async {
        guard !draining else { return }
        draining = true
        let drainStarted = system.clock.now
        // Callers stop sending new calls at once instead of finding out by refusals.
        for peer in peers.keys {
            answer(peer, .draining(incarnation: incarnation))
        }
        logger.info("draining", metadata: ["endpoint": "\(endpoint)", "callers": "\(peers.count)", "callsInFlight": "\(running.count)"])
        for service in services.values {
            do {
                try await system.configuration.discovery.deregister(service.instance)
            } catch {
                logger.warning("cannot deregister", metadata: ["service": "\(service.instance.service)", "error": "\(error)"])
            }
        }
        if !running.isEmpty {
            await withCheckedContinuation { drainWaiters.append($0) }
        }
        // A caller may send a call before it reads the draining frame: keep
        // answering such calls with `shuttingDown` (which moves them, for they
        // did not run) for a moment, rather than close under them.
        if !peers.isEmpty {
            try? await system.clock.sleep(until: drainStarted + system.configuration.drainGrace)
        }
        for service in services.values {
            service.pool.shutdown()
            await service.running.value
        }
    }
}

/// What a method run on this node did, ready to be answered.
enum CallOutcome: Sendable {
    case returned([UInt8]?)
    case failed(CallFailure)
}

extension CallFailure {
    init(workerPoolError error: WorkerPoolError, method: String) {
        switch error.code {
        case .overloaded:
            self.init(code: .overloaded, message: "\(method): the service's queue is full; the call did not run")
        case .deadlineExceeded:
            self.init(code: .deadlineExceeded, message: "\(method): the deadline passed on the node")
        case .shutDown:
            self.init(code: .shuttingDown, message: "\(method): the node is shutting down")
        default:
            self.init(code: .remoteApplicationError, message: "\(method): \(error)")
        }
    }
}
