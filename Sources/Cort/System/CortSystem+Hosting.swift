import Distributed

extension CortSystem {
    /// Hosts a service on this node: `replicas` replicas of an actor, made by
    /// `make`, behind this system's endpoint, registered with discovery under
    /// `name`. Each replica runs one call at a time, so the service runs up to
    /// `replicas` calls at once; further calls wait in a queue of
    /// ``Configuration/queueCapacity``, and beyond that are answered
    /// ``RemoteCallError/Code/overloaded`` at once, without running.
    ///
    /// The replicas run on Swift's global pool by default, so `replicas`
    /// calls really run in parallel and a method that computes delays only its
    /// own replica. A service whose methods suspend rather than compute can
    /// pass `executor: .reactor`: no thread switch per call on the node (see
    /// ``ReplicaExecutor`` for the figures and the trade-off).
    ///
    /// ```swift
    /// try await node.host("greeter", replicas: 4) { system in Greeter(actorSystem: system) }
    /// ```
    ///
    /// - Throws: ``RemoteCallError`` when the system serves no endpoint, the
    ///   name is taken, or discovery refuses the registration.
    public func host<Act: DistributedActor>(
        _ name: String,
        replicas: Int = 1,
        executor: ReplicaExecutor = .globalPool,
        _ make: @escaping @Sendable (CortSystem) async throws -> Act
    ) async throws where Act.ActorSystem == CortSystem {
        try await nodeServer().host(name, replicas: replicas, queueCapacity: configuration.queueCapacity,
                                    executor: executor, actorType: Act.self, make: make)
    }

    /// Runs one request on a local actor and returns what to answer.
    func execute(_ request: CallRequest, on actor: some DistributedActor) async -> CallOutcome {
        var decoder = CortInvocationDecoder(arguments: request.arguments, system: self)
        let handler = CortResultHandler(errors: errors)
        do {
            try await executeDistributedTarget(
                on: actor, target: RemoteCallTarget(request.target),
                invocationDecoder: &decoder, handler: handler)
        } catch let error as RemoteCallError {
            return .failed(CallFailure(code: error.code, message: "\(request.method): \(error.message)"))
        } catch {
            return .failed(CallFailure(code: .unknownTarget, message: "\(request.method): \(error)"))
        }
        switch handler.outcome {
        case .returned(let bytes):
            return .returned(bytes)
        case .failed(let failure):
            return .failed(failure)
        case nil:
            return .failed(CallFailure(code: .protocolError, message: "\(request.method) ended without a result"))
        }
    }

    /// Runs one request on one actor, cancelling it when `timeout` passes.
    func execute(_ request: CallRequest, on actor: any DistributedActor, timeout: Duration) async throws -> CallOutcome {
        let deadline = clock.now + timeout
        let clock = self.clock
        return try await withThrowingTaskGroup(of: CallOutcome?.self) { group in
            group.addTask { await self.execute(request, on: actor) }
            group.addTask {
                try await clock.sleep(until: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let outcome = first else {
                throw RemoteCallError(.deadlineExceeded, "\(request.method): the deadline passed on the node")
            }
            return outcome
        }
    }

    /// Whether the distributed target `identifier` is a method of the actor
    /// type named `actorType` (module-qualified). The runtime would run any
    /// method on any actor it is given, so a request naming another type's
    /// method must be refused before it gets there.
    func target(_ identifier: String, belongsTo actorType: String) -> Bool {
        // Only answers that a target belongs are remembered: they are bounded
        // by the hosted types' methods, where a hostile sender could make up
        // endless wrong ones.
        let key = actorType + " " + identifier
        if knownTargets.withLock({ $0.contains(key) }) { return true }
        guard checkTarget(identifier, belongsTo: actorType) else { return false }
        knownTargets.withLock { _ = $0.insert(key) }
        return true
    }

    private func checkTarget(_ identifier: String, belongsTo actorType: String) -> Bool {
        guard let demangled = demangle(identifier) else { return false }
        // "distributed thunk Module.Type.method(label: Type) async throws -> Result"
        guard let range = demangled.firstRange(of: actorType + ".") else { return false }
        let rest = demangled[range.upperBound...]
        guard let parenthesis = rest.firstIndex(of: "(") else { return false }
        return !rest[..<parenthesis].contains(".")
    }
}

extension CortSystem {
    /// What this node has counted (requests, answers, bad frames); for tests and metrics.
    func nodeCounters() async throws -> NodeServer.Counters {
        try await nodeServer().counters
    }
}
