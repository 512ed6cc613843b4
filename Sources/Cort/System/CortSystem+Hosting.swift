import CortMessagePack
import Distributed

extension CortSystem {
    /// Hosts a service on this node: `replicas` replicas of an actor, made by
    /// `make`, behind this system's endpoint, registered with discovery under
    /// `name`. Each replica runs one call at a time, so the service runs up to
    /// `replicas` calls at once; further calls wait in a queue of
    /// `queueCapacity` calls, and beyond that are answered
    /// ``RemoteCallError/Code/overloaded`` at once, without running.
    ///
    /// The replicas run on the node's reactor by default: no thread switch
    /// per call on the node, and a call that computes or blocks for more than
    /// about 10 ms gets a thread of its own while the node goes on reading and
    /// answering. A service whose every call computes can pass
    /// `executor: .globalPool` (see ``ReplicaExecutor`` for the figures and
    /// the trade-off).
    ///
    /// ```swift
    /// try await node.host("greeter", replicas: 4) { system in Greeter(actorSystem: system) }
    /// ```
    ///
    /// - Parameters:
    ///   - name: the name discovery knows the service by.
    ///   - replicas: how many instances of the actor this node runs, each
    ///     one call at a time (not copies on other nodes: every node that
    ///     hosts the service has its own).
    ///   - queueCapacity: how many calls may wait for a replica; nil takes
    ///     ``Configuration/queueCapacity``.
    ///   - executor: where the replicas run their calls.
    ///   - access: which callers may call which of its methods (see
    ///     ``ServiceAccess``); every caller the node lets connect by default.
    ///   - interceptors: hooks around this service's calls, inside the
    ///     system's ``Configuration/serverInterceptors``.
    ///   - make: makes replica number 0, 1, … on this system.
    /// - Throws: ``ConfigurationError`` when the system serves no endpoint,
    ///   the name is empty, too long or taken, a count is below 1, or
    ///   `access` names callers on a system without CURVE security.
    public func host<Act: DistributedActor>(
        _ name: String,
        replicas: Int = 1,
        queueCapacity: Int? = nil,
        executor: ReplicaExecutor = .reactor,
        access: ServiceAccess = .anyAllowedCaller,
        interceptors: [any ServerInterceptor] = [],
        _ make: @escaping @Sendable (CortSystem) async throws -> Act
    ) async throws where Act.ActorSystem == CortSystem {
        guard access.isOpen || configuration.security.isEncrypted else {
            throw ConfigurationError(.invalidValue, "\(name): access rules name callers by their CURVE keys; "
                                     + "this system is plaintext, so it cannot tell callers apart")
        }
        guard replicas >= 1 else {
            throw ConfigurationError(.invalidValue, "\(name): replicas is \(replicas); a service needs at least 1")
        }
        let capacity = queueCapacity ?? configuration.queueCapacity
        guard capacity >= 1 else {
            throw ConfigurationError(.invalidValue, "\(name): queueCapacity is \(capacity); it must be at least 1")
        }
        try await nodeServer().host(name, replicas: replicas, queueCapacity: capacity,
                                    executor: executor, access: access,
                                    interceptors: configuration.serverChain + interceptors,
                                    actorType: Act.self, make: make)
    }

    /// Hosts a service under the name its type gives (``CortService/serviceName``),
    /// with the errors it declares registered; otherwise as
    /// ``host(_:replicas:queueCapacity:executor:access:interceptors:_:)``.
    ///
    /// ```swift
    /// try await node.host(replicas: 4) { Greeter(actorSystem: $0) }
    /// ```
    public func host<Act: CortService>(
        _ type: Act.Type = Act.self,
        replicas: Int = 1,
        queueCapacity: Int? = nil,
        executor: ReplicaExecutor = .reactor,
        access: ServiceAccess = .anyAllowedCaller,
        interceptors: [any ServerInterceptor] = [],
        _ make: @escaping @Sendable (CortSystem) async throws -> Act
    ) async throws {
        registerErrors(declaredBy: Act.self)
        try await host(Act.serviceName, replicas: replicas, queueCapacity: queueCapacity, executor: executor,
                       access: access, interceptors: interceptors, make)
    }

    /// Runs one request on a local actor, with `context` as its
    /// ``CallContext``, and returns what to answer.
    ///
    /// Only what the method itself threw is its answer; the runtime's own
    /// failures (an argument that does not decode, a target it cannot find)
    /// reach the result handler the same way, and are told apart here: they
    /// happen before the method runs.
    ///
    /// `arguments` reads the arguments: a decoder whose `userInfo` holds
    /// this system (for actor references), made once by the node rather
    /// than per call.
    // Inlined into its callers (a pooled call's job, the instance lane's
    // task): one async frame and one executor switch fewer a call.
    @inline(__always)
    nonisolated(nonsending) func execute(
        _ request: CallRequest, target: TargetCatalog.Target, on actor: some DistributedActor,
        dispatch: ReplicaDispatch? = nil, context: CallContext,
        interceptors: InterceptorChain<any ServerInterceptor>, queued: Duration, arguments: MessagePackDecoder
    ) async -> CallOutcome {
        // Skipped when only cort's own interceptors are there, with nothing to record to.
        guard interceptors.isActive else {
            return await execute(request, target: target, on: actor, dispatch: dispatch, context: context,
                                 arguments: arguments)
        }
        return await CallContext.$current.withValue(context) {
            do {
                return try await Self.run(ServerCall(context: context, queued: queued), through: interceptors.interceptors[...]) { call in
                    ServerCallResult(outcome: await execute(request, target: target, on: actor, dispatch: dispatch,
                                                            context: call.context, arguments: arguments))
                }.outcome
            } catch let error as RemoteCallError {
                // Refused before the method ran (or after, by the interceptor's own choice).
                return .failed(CallFailure(code: error.code, message: "\(target.method): \(error.message)"))
            } catch {
                return .failed(CallFailure(code: .remoteApplicationError, message: "\(target.method): an interceptor threw \(error)"))
            }
        }
    }

    /// What ``execute(_:target:on:dispatch:context:interceptors:queued:arguments:)``
    /// answers, without an async call, when the call takes the synchronous
    /// half of the replica's generated dispatch (no interceptor has anything
    /// to do, and the method is not `async`); nil when it does not, having
    /// run nothing.
    func executeSynchronously(
        _ request: CallRequest, target: TargetCatalog.Target, on actor: some DistributedActor,
        dispatch: ReplicaDispatch?, context: CallContext, interceptors: InterceptorChain<any ServerInterceptor>,
        arguments: MessagePackDecoder, isolation: isolated (any Actor)?
    ) -> CallOutcome? {
        guard let dispatch, target.mayRunSynchronously, target.isGenerated(in: dispatch.keys),
              !interceptors.isActive
        else { return nil }
        var decoder = CortInvocationDecoder(arguments: request.arguments, decoder: arguments)
        return executeSynchronously(dispatch, target: target, on: actor, context: context, decoder: &decoder,
                                    isolation: isolation)
    }

    /// Runs `call` through `interceptors`, the first outermost, and `body` inside them all.
    static func run(_ call: ServerCall, through interceptors: ArraySlice<any ServerInterceptor>,
                    _ body: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult {
        guard let first = interceptors.first else { return try await body(call) }
        return try await first.intercept(call) { next in
            try await run(next, through: interceptors.dropFirst(), body)
        }
    }

    // Inlined, as is the next one: each async frame a call goes through costs
    // an allocation from the task's allocator and a switch that looks up the
    // task's executor preference (node, callgrind: 74,700 -> 72,800
    // instructions a call for the two).
    @inline(__always)
    private func execute(
        _ request: CallRequest, target: TargetCatalog.Target, on actor: some DistributedActor,
        dispatch replicaDispatch: ReplicaDispatch?, context: CallContext, arguments: MessagePackDecoder,
        isolation: isolated (any Actor)? = #isolation
    ) async -> CallOutcome {
        var decoder = CortInvocationDecoder(arguments: request.arguments, decoder: arguments)
        if let replicaDispatch, target.isGenerated(in: replicaDispatch.keys) {
            if target.mayRunSynchronously,
               let outcome = executeSynchronously(replicaDispatch, target: target, on: actor, context: context,
                                                  decoder: &decoder, isolation: isolation) {
                return outcome
            }
            if let outcome = await execute(replicaDispatch, target: target, on: actor, context: context,
                                           decoder: &decoder) {
                return outcome
            }
        }
        if let dispatch = target.dispatch {
            return await execute(dispatch, target: target, on: actor, context: context, decoder: &decoder)
        }
        let handler = CortResultHandler()
        do {
            try await CallContext.$current.withValue(context) {
                try await executeDistributedTarget(
                    on: actor, target: RemoteCallTarget(request.target),
                    invocationDecoder: &decoder, handler: handler)
            }
        } catch {
            return .failed(CallFailure(code: .unknownTarget, message: "\(target.method): the runtime cannot run it: \(error)"))
        }
        if let failure = decoder.failure {
            return .failed(CallFailure(code: failure.code, message: "\(target.method): \(failure.message)"))
        }
        switch handler.outcome {
        case .returned(let bytes):
            targets.confirm(target)
            return .returned(bytes)
        case .unencodable(let failure):
            targets.confirm(target)
            return .failed(CallFailure(code: failure.code, message: "\(target.method): \(failure.message)"))
        case .threw(let error as ExecuteDistributedTargetError):
            return .failed(Self.failure(for: error, target: target))
        case .threw(let error):
            targets.confirm(target)
            if let service = type(of: actor) as? any CortService.Type { registerErrors(declaredBy: service) }
            return .failed(errors.failure(for: error, method: target.method))
        case nil:
            return .failed(CallFailure(code: .protocolError, message: "\(target.method) ended without a result"))
        }
    }

    /// Runs a target through the replica's generated dispatch (`@CortService`);
    /// nil when the dispatch does not run it (the runtime's path does).
    ///
    /// Called on the replica (its worker's loop runs there: see
    /// `WorkerPool.isolation`), and the task-local scope's closure runs
    /// where this does, so the method is reached without a switch.
    @inline(__always)
    private func execute(
        _ dispatch: ReplicaDispatch, target: TargetCatalog.Target, on actor: some DistributedActor,
        context: CallContext, decoder: inout CortInvocationDecoder, isolation: isolated (any Actor)? = #isolation
    ) async -> CallOutcome? {
        let result: CortDispatchResult
        do {
            result = try await CallContext.$current.withValue(context) {
                // Naming `isolation` makes the closure isolated to it.
                _ = isolation
                return try await dispatch.run(target.dispatchKey, &decoder)
            }
        } catch {
            dispatchedCalls.add(1, ordering: .relaxed)
            return outcome(thrown: error, by: target, on: actor, decoder: decoder)
        }
        guard case .returned(let bytes) = result else { return nil }
        dispatchedCalls.add(1, ordering: .relaxed)
        targets.confirm(target)
        return .returned(bytes)
    }

    /// Runs a target whose method is not `async` through the synchronous
    /// half of the replica's generated dispatch; nil when that half has no
    /// case for it (the async half, or the runtime's path, runs it).
    @inline(__always)
    private func executeSynchronously(
        _ dispatch: ReplicaDispatch, target: TargetCatalog.Target, on actor: some DistributedActor,
        context: CallContext, decoder: inout CortInvocationDecoder, isolation: isolated (any Actor)?
    ) -> CallOutcome? {
        let answer: CallOutcome
        do {
            let result = try CallContext.$current.withValue(context) {
                try dispatch.runSync(target.dispatchKey, &decoder, on: isolation)
            }
            // Not on the replica: the async half runs it there.
            guard let result else { return nil }
            guard case .returned(let bytes) = result else {
                target.noteSynchronous(false)
                return nil
            }
            targets.confirm(target)
            answer = .returned(bytes)
        } catch {
            answer = outcome(thrown: error, by: target, on: actor, decoder: decoder)
        }
        // It ran, returning or throwing.
        target.noteSynchronous(true)
        dispatchedCalls.add(1, ordering: .relaxed)
        synchronouslyDispatchedCalls.add(1, ordering: .relaxed)
        return answer
    }

    /// Runs a target the node has run before, through its ``DirectDispatch``.
    @inline(__always)
    private nonisolated(nonsending) func execute(
        _ dispatch: DirectDispatch, target: TargetCatalog.Target, on actor: some DistributedActor, context: CallContext,
        decoder: inout CortInvocationDecoder
    ) async -> CallOutcome {
        do {
            let bytes = try await CallContext.$current.withValue(context) {
                try await dispatch.execute(on: actor, decoder: &decoder)
            }
            return .returned(bytes)
        } catch {
            return outcome(thrown: error, by: target, on: actor, decoder: decoder)
        }
    }

    /// The answer when running `target` directly (a ``DirectDispatch`` or a
    /// generated dispatch) threw `error`: a result it could not encode, an
    /// argument it could not read (the method did not run), the runtime's
    /// refusal, or the method's own error. Confirms the target when the
    /// method ran (a no-op for one already confirmed).
    private func outcome(thrown error: any Error, by target: TargetCatalog.Target, on actor: some DistributedActor,
                         decoder: CortInvocationDecoder) -> CallOutcome {
        if let error = error as? DirectDispatch.UnencodableResult {
            targets.confirm(target)
            return .failed(CallFailure(
                code: .remoteApplicationError,
                message: "\(target.method): the result (\(error.type)) could not be encoded: \(error.error)"))
        }
        if let failure = decoder.failure {
            return .failed(CallFailure(code: failure.code, message: "\(target.method): \(failure.message)"))
        }
        if let error = error as? ExecuteDistributedTargetError {
            return .failed(Self.failure(for: error, target: target))
        }
        targets.confirm(target)
        if let service = type(of: actor) as? any CortService.Type { registerErrors(declaredBy: service) }
        return .failed(errors.failure(for: error, method: target.method))
    }

    /// The answer for a failure of the runtime's own: the method did not run.
    private static func failure(for error: ExecuteDistributedTargetError, target: TargetCatalog.Target) -> CallFailure {
        switch error.errorCode {
        case .invalidParameterCount:
            CallFailure(code: .badArguments, message: "\(target.method): \(error.message)")
        default:
            CallFailure(code: .unknownTarget, message: "\(target.method) is not a method this node can run on \(target.actorType)")
        }
    }

    /// A decoder whose `userInfo` holds this system, for a call's arguments
    /// (see ``execute(_:target:on:context:interceptors:queued:arguments:)``).
    func argumentDecoder() -> MessagePackDecoder {
        var decoder = MessagePackDecoder()
        // Actor references among the arguments resolve through this system.
        decoder.userInfo[.actorSystemKey] = self
        return decoder
    }

    /// Runs one request on one actor, cancelling it when `timeout` passes.
    func execute(_ request: CallRequest, target: TargetCatalog.Target, on actor: any DistributedActor,
                 context: CallContext, interceptors: InterceptorChain<any ServerInterceptor>, queued: Duration,
                 arguments: MessagePackDecoder, timeout: Duration) async -> CallOutcome {
        let deadline = clock.now + timeout
        let clock = self.clock
        return await withTaskGroup(of: CallOutcome?.self) { group in
            group.addTask {
                await self.execute(request, target: target, on: actor, context: context, interceptors: interceptors,
                                   queued: queued, arguments: arguments)
            }
            group.addTask {
                try? await clock.sleep(until: deadline)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = await group.next(), let outcome = first else {
                return .failed(CallFailure(code: .deadlineExceeded, message: "\(target.method): the deadline passed on the node"))
            }
            return outcome
        }
    }
}

extension CortSystem {
    /// What this node has counted (requests, answers, bad frames); for tests and metrics.
    func nodeCounters() async throws -> NodeServer.Counters {
        try await nodeServer().counters
    }

    /// Returns once this node has no call accepted; for tests.
    func waitUntilNodeIdle() async throws {
        try await nodeServer().waitUntilNoCalls()
    }

    /// How much this node holds now; for tests of its bounds.
    func nodeSnapshot() async throws -> NodeServer.Snapshot {
        try await nodeServer().snapshot
    }
}
