import CortZeroMQ
import Distributed

extension NodeServer {
    /// Checks a request and queues it in its lane, or refuses it.
    ///
    /// Every refusal here is said before the method starts, so only these
    /// may tell the caller "this never ran" (`overloaded`, `shuttingDown`):
    /// whatever a running method throws is its answer (see ``ErrorRegistry``).
    func admit(_ request: CallRequest, from routingID: [UInt8], peer: PeerTable.Ref?, callerKey: CurveKey?,
               at now: Duration) {
        func refuse(_ code: RemoteCallError.Code, _ message: String) {
            if code == .overloaded { counters.refused += 1 }
            answer(.failure(id: request.id, CallFailure(code: code, message: message)), to: routingID, peer: peer)
        }
        if draining {
            return refuse(.shuttingDown, "the node is shutting down; the call did not run")
        }
        guard let peer else {
            rateLimited.log(.warning, "callers-full", "refusing a call: every caller this node remembers has calls in flight",
                            metadata: ["cort.node.maxCallers": "\(nodeLimits.maxCallers)"], at: now)
            metrics?.refused(.tooManyCallers)
            return refuse(.overloaded, "this node serves \(nodeLimits.maxCallers) callers already; the call did not run")
        }
        if peers.isNotReading(peer) {
            // Its answers pile up unread; taking more work for it would only
            // grow them. The refusal itself tests whether it reads again.
            metrics?.refused(.notReading)
            return refuse(.overloaded, "this caller does not read its answers; the call did not run")
        }
        // A call to one actor instance (a reference that was passed around)
        // runs on that actor; a call to a service runs on its pool.
        let lane: Int
        let instanceActor: (any DistributedActor)?
        let actorType: String
        var access = ServiceAccess.anyAllowedCaller
        if let instance = request.actor {
            guard let actor = system.localActor(instance: instance) else {
                return refuse(.unknownTarget, "this node has no actor \(instance)")
            }
            (lane, instanceActor, actorType) = (0, actor, String(reflecting: type(of: actor)))
        } else {
            guard let found = serviceLane(named: request.service) else {
                return refuse(.unknownTarget, "this node hosts no service named \(request.service)")
            }
            (lane, instanceActor, actorType, access) = (found, nil, lanes[found].actorType, lanes[found].access)
        }
        let target: TargetCatalog.Target
        if let recent = lanes[lane].recentTarget(request.target, on: actorType) {
            target = recent
        } else {
            guard let found = system.targets.lookUp(request.target, on: actorType) else {
                return refuse(.unknownTarget, "the target is not a distributed method of \(actorType)")
            }
            target = found
            lanes[lane].remember(found)
        }
        guard access.allows(callerKey, method: target.method) else {
            counters.denied += 1
            metrics?.denied.increment()
            return refuse(.permissionDenied, "\(target.method): this caller may not call it; the call did not run")
        }
        guard request.arguments.count == target.parameterCount else {
            return refuse(.badArguments, "\(target.method) takes \(target.parameterCount) arguments, "
                          + "the request has \(request.arguments.count)")
        }
        guard request.timeout > .zero else {
            return refuse(.deadlineExceeded, "\(target.method): the deadline had passed when the request arrived")
        }
        let key = CallKey(peer: peer, id: request.id)
        let timeout = min(request.timeout, nodeLimits.maxCallDuration)
        guard let slot = calls.insert(AcceptedCall(request: request, target: target, lane: lane,
                                                   deadline: now + timeout, routingID: routingID,
                                                   callerKey: callerKey, acceptedAt: now,
                                                   instanceActor: instanceActor), for: key) else {
            return refuse(.protocolError, "call id \(request.id) is already in flight for this caller")
        }
        let size = request.arguments.reduce(256) { $0 + $1.count }
        switch lanes[lane].queue.enqueue(QueuedCall(key: key, slot: slot), bytes: size, from: peer,
                                         reserved: lanes[lane].handedOn) {
        case .refused:
            _ = calls.remove(key)
            rateLimited.log(.debug, "queue-full", "refusing a call: the queue is full", metadata: [
                "cort.service": "\(lanes[lane].name)"], at: now)
            lanes[lane].metrics?.queueFull.increment()
            return refuse(.overloaded, "\(target.method): the queue of \(lanes[lane].name) is full "
                          + "(\(lanes[lane].queue.count) calls waiting); the call did not run")
        case .accepted(let evicted):
            for pushedOut in evicted {
                counters.refused += 1
                lanes[lane].metrics?.pushedOut.increment()
                finish(pushedOut.key, .failed(CallFailure(
                    code: .overloaded,
                    message: "the queue of \(lanes[lane].name) is full and another caller's call took this one's "
                        + "place; the call did not run")))
            }
        }
        peers.acceptedCall(for: peer)
        pump(lane, now: now)
    }

    /// The lane of the service named `service`, if this node hosts it.
    func serviceLane(named service: String) -> Int? {
        if let last = lastServiceLane, last.service == service { return last.lane }
        guard let lane = serviceLanes[service] else { return nil }
        lastServiceLane = (service, lane)
        return lane
    }

    /// Starts waiting calls of `lane`, caller by caller, while it has room;
    /// `now`, when the caller just read the clock (the first call takes it).
    func pump(_ lane: Int, now read: Duration? = nil) {
        var read = read
        while lanes[lane].inFlight < lanes[lane].maxInFlight, let (_, queued) = lanes[lane].queue.dequeue() {
            guard let call = calls.call(at: queued.slot, key: queued.key) else { continue }
            let now = read ?? system.clock.now
            read = nil
            guard now < call.deadline else {
                finish(queued.key, .failed(CallFailure(
                    code: .deadlineExceeded, message: "\(call.target.method): the deadline passed before it started; it did not run")))
                continue
            }
            start(queued.key, call, in: lane, now: now)
        }
        recordLoad(of: lane)
    }

    /// `now` is when the pump took it, on the system's clock (one reading
    /// of the clock fewer).
    private func start(_ key: CallKey, _ call: AcceptedCall, in lane: Int, now: Duration) {
        let timeout = call.deadline - now
        let system = self.system
        let request = call.request
        let target = call.target
        let context = CallContext(
            callID: request.id, service: request.service, method: target.method, metadata: request.metadata,
            caller: CallerIdentity(routingID: call.routingID, publicKey: call.callerKey), isIdempotent: request.flags.contains(.idempotent),
            deadline: call.deadline, clock: system.clock, logger: logger)
        let interceptors = lanes[lane].interceptors(at: now)
        let queued = now - call.acceptedAt
        switch lanes[lane].work {
        case .pool(let pool, _):
            do {
                // Handed to the pool from the reactor without a task of its own,
                // as one object; the worker hands it back through the node's
                // list of finished calls (see `answerFinishedCalls`).
                let ticket = try pool.tryEnqueue(PooledCall(
                    server: self, key: key, lane: lane, request: request, target: target, context: context,
                    interceptors: interceptors, queued: queued, deadline: now + timeout))
                call.running = .pooled(ticket)
                lanes[lane].inFlight += 1
            } catch let error as WorkerPoolError {
                finish(key, .failed(CallFailure(workerPoolError: error, method: target.method, started: false)))
            } catch {
                finish(key, .failed(CallFailure(code: .remoteApplicationError, message: "\(target.method): \(error)")))
            }
        case .instances:
            guard let actor = call.instanceActor else {
                return finish(key, .failed(CallFailure(code: .unknownTarget, message: "\(target.method): no actor")))
            }
            let task = Task {
                let outcome = await system.execute(request, target: target, on: actor, context: context,
                                                   interceptors: interceptors, queued: queued,
                                                   arguments: argumentDecoder, timeout: timeout)
                self.completed(key, in: lane, .success(outcome), started: true)
            }
            call.running = .direct(task)
            lanes[lane].inFlight += 1
        }
    }

    /// A call left its worker: answer it (unless nobody waits) and start the next.
    func completed(_ key: CallKey, in lane: Int, _ result: Result<CallOutcome, any Error>, started: Bool) {
        lanes[lane].inFlight -= 1
        switch result {
        case .success(let outcome):
            finish(key, outcome)
        case .failure(let error as WorkerPoolError):
            let method = calls[key]?.target.method ?? "a call"
            finish(key, .failed(CallFailure(workerPoolError: error, method: method, started: started)))
        case .failure:
            // Cancelled: its caller cancelled it or left, and reads no answer.
            finish(key, nil)
        }
        pump(lane)
    }

    /// A call is over: forget it and answer its caller, if one still listens.
    func finish(_ key: CallKey, _ outcome: CallOutcome?) {
        guard let call = calls.remove(key) else { return }
        peers.releasedCall(for: key.peer)
        if let outcome, !call.silenced {
            switch outcome {
            case .returned(let bytes):
                counters.replies += 1
                answer(.reply(id: key.id, result: bytes), to: call.routingID, peer: key.peer)
            case .failed(let failure):
                answer(.failure(id: key.id, failure), to: call.routingID, peer: key.peer)
            }
        }
        if calls.isEmpty && !idleWaiters.isEmpty {
            let waiters = idleWaiters
            idleWaiters.removeAll()
            for waiter in waiters { waiter.resume() }
        }
    }

    /// The caller no longer waits for a call: drop it if it waits, stop it
    /// if it runs; no answer either way.
    func cancel(_ key: CallKey) {
        guard let call = calls[key] else { return }
        counters.cancelled += 1
        stop(key, call)
    }

    private func stop(_ key: CallKey, _ call: AcceptedCall) {
        if let running = call.running {
            call.silenced = true
            running.cancel()
        } else {
            _ = lanes[call.lane].queue.remove(from: key.peer) { $0.key == key }
            recordLoad(of: call.lane)
            finish(key, nil)
        }
    }

    /// Drops every call of `peer` without answering: it left, or stopped
    /// reading. Waiting calls are dropped, running ones cancelled.
    func abandonCalls(of peer: PeerTable.Ref, waitingOnly: Bool) {
        guard peers[peer].map({ $0.callCount > 0 }) == true else { return }
        // The calls waiting in a lane's queue leave it in one pass: taken
        // out one by one, each would scan the queue, and a caller that
        // filled a queue of 10,000 calls held the node's loop for seconds
        // (its other callers' pings went unanswered meanwhile).
        for lane in lanes.indices where lanes[lane].queue.count(of: peer) > 0 {
            for queued in lanes[lane].queue.removeAll(from: peer)
            where calls.call(at: queued.slot, key: queued.key) != nil {
                counters.abandoned += 1
                metrics?.abandoned.increment()
                finish(queued.key, nil)
            }
            recordLoad(of: lane)
        }
        // What is left: calls handed on to a pool (not started yet) and running ones.
        for (key, call) in calls.calls(of: peer) where !waitingOnly || call.running == nil {
            counters.abandoned += 1
            metrics?.abandoned.increment()
            stop(key, call)
        }
    }
}

extension CallFailure {
    /// The answer for a pool's refusal. `started` says whether the work had
    /// begun: only a call that never ran may be answered with a code that
    /// lets its caller send it elsewhere.
    init(workerPoolError error: WorkerPoolError, method: String, started: Bool) {
        switch error.code {
        case .overloaded where !started:
            self.init(code: .overloaded, message: "\(method): the service's queue is full; the call did not run")
        case .deadlineExceeded:
            self.init(code: .deadlineExceeded, message: started
                      ? "\(method): the deadline passed while it ran; it was cancelled"
                      : "\(method): the deadline passed before it started; it did not run")
        case .shutDown where !started:
            self.init(code: .shuttingDown, message: "\(method): the node is shutting down; the call did not run")
        case .shutDown where started, .workerFailed where started:
            self.init(code: .outcomeUnknown, message: "\(method): the node stopped its replicas while the call ran; "
                      + "it may or may not have had its effects")
        default:
            self.init(code: .remoteApplicationError, message: "\(method): \(error)")
        }
    }
}
