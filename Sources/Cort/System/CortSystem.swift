import CoreMetrics
import CortMessagePack
import Tracing
import CortZeroMQ
import Distributed
import Logging
import Synchronization

/// The distributed actor system behind cort's typed remote calls.
///
/// A service is a `distributed actor` whose `ActorSystem` is `CortSystem`. A
/// node hosts it under a name on a pool of replicas; a caller resolves it by
/// name and awaits its methods. Arguments and results travel as MessagePack
/// over ZeroMQ; where a service's nodes are comes from ``Discovery``.
///
/// ```swift
/// distributed actor Greeter {
///     typealias ActorSystem = CortSystem
///     distributed func hello(name: String) -> String { "Hello, \(name)!" }
/// }
///
/// let discovery = LocalDiscovery()
/// // a node: serve on a free port, host 4 replicas of the service
/// let node = try CortSystem.start(.init(name: "node-a", discovery: discovery, endpoint: "tcp://127.0.0.1:0"))
/// try await node.host("greeter", replicas: 4) { Greeter(actorSystem: $0) }
/// // a caller: resolve the service by name, await typed calls
/// let caller = try CortSystem.start(.init(name: "caller", discovery: discovery))
/// let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
/// print(try await greeter.hello(name: "Ada"))   // Hello, Ada!
/// ```
///
/// Local actors (created with this system) are called directly by Swift,
/// without the wire.
public final class CortSystem: DistributedActorSystem, Sendable {
    public typealias ActorID = CortActorID
    public typealias InvocationEncoder = CortInvocationEncoder
    public typealias InvocationDecoder = CortInvocationDecoder
    public typealias ResultHandler = CortResultHandler
    public typealias SerializationRequirement = Codable

    /// How a system is set up.
    public struct Configuration: Sendable {
        /// The node's name, for logs and instance ids.
        public var name: String
        /// Where services are registered and looked up.
        public var discovery: any Discovery
        /// The endpoint to serve on (`tcp://host:port`; port 0 picks a free
        /// port), or nil for a system that only makes calls.
        public var endpoint: String?
        /// The deadline of a call that sets none (``CallOptions/timeout``).
        public var defaultTimeout: Duration
        /// How many calls may wait in each hosted service's queue beyond
        /// those running, for services hosted without a capacity of their own.
        public var queueCapacity: Int
        /// The clock every timer reads (deadlines, backoff).
        public var clock: any Clock<Duration>
        /// Where the system logs (never payloads). By default nowhere: a
        /// library stays quiet until its user sets up logging. Pass a logger
        /// to see what it does:
        ///
        /// ```swift
        /// var logger = Logger(label: "cort")
        /// logger.logLevel = .info
        /// let node = try CortSystem.start(.init(name: "node-a", discovery: discovery, logger: logger))
        /// ```
        public var logger: Logger
        /// How this system's callers watch the nodes they call.
        public var heartbeat: HeartbeatConfiguration
        /// Bounds on this system's calls in flight.
        public var callLimits: CallLimits
        /// How long a draining node keeps its connections open after telling
        /// its callers, at least: a call sent before a caller read the news is
        /// refused with `shuttingDown` (and moved by the caller) instead of
        /// meeting a closed connection, where its outcome would be unknown.
        public var drainGrace: Duration
        /// The largest request or answer, in bytes of its envelope (default
        /// 4 MiB), the same bound both ways: a caller refuses to send a larger
        /// request (``RemoteCallError/Code/messageTooLarge``), a node answers a
        /// larger request with `messageTooLarge`, and a node whose answer is
        /// larger sends `messageTooLarge` instead of it. Give callers and
        /// nodes of a service the same value.
        public var maxMessageBytes: Int
        /// What a node keeps to protect itself from callers (deadline cap,
        /// callers remembered, answers buffered); see ``NodeLimits``.
        public var nodeLimits: NodeLimits
        /// How calls are protected on the wire: ``Security/plaintext`` (the
        /// default, for one machine and tests) or CURVE, encrypted with both
        /// ends authenticated (``Security/curve(keyPair:allowedCallers:)``;
        /// see docs/SECURITY.md).
        public var security: Security
        /// Hooks around every call this system makes, outermost first (see
        /// ``ClientInterceptor``).
        public var clientInterceptors: [any ClientInterceptor]
        /// Hooks around every call this node runs, outermost first, before
        /// those a hosted service adds (see ``ServerInterceptor``).
        public var serverInterceptors: [any ServerInterceptor]
        /// Where the system records the metrics no interceptor sees: a
        /// node's refusals, dropped calls, bad frames and load per service;
        /// a caller's changes of node state (see docs/OBSERVABILITY.md). Nil
        /// (the default) records to the factory the program bootstrapped
        /// before the system started, if any; cort never bootstraps one.
        public var metricsFactory: (any MetricsFactory)?
        /// The tracer of cort's tracing interceptors; nil (the default) uses
        /// the one the program bootstrapped in `InstrumentationSystem`, if any.
        public var tracer: (any Tracer)?
        /// Whether cort's own interceptors run first on both sides: tracing
        /// (``TracingClientInterceptor``, ``TracingServerInterceptor``), then
        /// metrics (``MetricsClientInterceptor``, ``MetricsServerInterceptor``),
        /// before ``clientInterceptors`` and ``serverInterceptors``. On by
        /// default: until the program bootstraps a tracer or a metrics
        /// backend (or sets ``tracer`` or ``metricsFactory``) they only look
        /// whether one is there.
        public var instrumented: Bool
        /// The longest the system's reactor polls for answers, instead of
        /// sleeping, while a few of its calls (up to 4) await them: 200 µs
        /// by default, `.zero` to never poll.
        ///
        /// A sleeping thread is woken through its CPU, and a CPU that halted
        /// (most of them on a virtual machine) takes tens of microseconds to
        /// wake: about 25 µs on the 2-core machine of `Benchmarks/`, where
        /// this took one call in flight from 1.6× the C echo's time to
        /// 1.0× (p99 from 1.7× to 1.0–1.3×). The price is CPU: polling keeps
        /// the reactor's thread on its CPU while such calls are out, up to
        /// the whole round trip of back-to-back calls (the caller's CPU per
        /// call went from 70 to 118 µs there). The window adapts as Linux's haltpoll governor
        /// does: it grows while answers come within 200 µs of the loop going
        /// idle, and shrinks to nothing while they take longer, so a caller
        /// whose calls take milliseconds, or that calls now and then, does
        /// not poll. Set `.zero` where CPU counts more than latency (a
        /// container with a fraction of a CPU).
        public var answerPolling: Duration
        /// How libzmq's I/O threads of this system are scheduled:
        /// ``IOThreadScheduling/batchWhenServing`` by default (Linux's
        /// `SCHED_BATCH` for a node, where the system allows it; a system
        /// that only calls keeps libzmq's default).
        ///
        /// An I/O thread is woken for every message that finds its queue
        /// empty, by the thread that sent it or by the network; under
        /// `SCHED_BATCH` it does not preempt the thread running on its CPU,
        /// so it runs when that thread blocks or its time slice ends, and
        /// then moves what came meanwhile in one go. On the 2-core machine of
        /// `Benchmarks/`, with both processes on one CPU, 64 typed calls in
        /// flight took 22 % less time a call with the node's threads so
        /// scheduled, and about 5 % less again with the caller's too; on two
        /// CPUs the gain moves with the machine. One call in flight took no
        /// more. It needs no privilege; otherwise the threads are scheduled
        /// as any other (same weight). ``IOThreadScheduling/inherited``
        /// leaves them as libzmq makes them.
        ///
        /// Not for a caller by default: an I/O thread that does not preempt
        /// also gets no more than its share of a saturated CPU, and a caller
        /// flooding nodes with 100,000 calls beside two CPU hogs then took
        /// live nodes for dead (3 full-suite runs of 15; its I/O thread
        /// waited for a CPU up to 200 ms of any 300). A caller does not count
        /// the time its I/O thread waited for a CPU as its nodes' silence,
        /// but that did not make the test pass every time (2 failures in 12
        /// runs with it), so ``IOThreadScheduling/batch`` is a choice.
        public var ioThreadScheduling: IOThreadScheduling
        /// Whether a caller awaiting an answer goes on on the system's
        /// reactor thread, which read the answer, up to its next suspension
        /// (true, the default), instead of on a thread of Swift's global
        /// executor woken for it.
        ///
        /// Only a task that would go to the global executor is taken: one
        /// with no executor preference whose code after the call is
        /// nonisolated or isolated to a default actor (which runs wherever
        /// the global executor gives it a thread). Code isolated to the main
        /// actor or to an actor with its own executor, and a task that
        /// prefers an executor, go there as before, and so does a call made
        /// by a hosted method (whose replica may run on
        /// ``ReplicaExecutor/globalPool``, which promises it the pool's
        /// threads). Typically a caller runs a few microseconds
        /// and calls again, or suspends on something else, and the reactor
        /// goes on reading, pinging and answering. One that computes longer
        /// is seen by the reactor's watchdog, which moves the loop to a new
        /// thread after ``ZeroMQReactor/handOffAfter`` (10 ms) while the old
        /// one finishes the caller's step, as for a hosted method on the
        /// reactor. And once the loop has been busy for
        /// ``ZeroMQReactor/keepsGlobalJobsWhileBusyFor`` (1 ms) without a
        /// pause, the callers it resumes go to the global executor until it
        /// idles again, so callers' work does not pile up on one thread.
        ///
        /// Each call saves a crossing between threads: on the 2-core machine
        /// of `Benchmarks/`, 64 typed calls in flight from the global pool
        /// took 0.70 of the time a call (41.8–42.5 % of the C echo's
        /// throughput instead of 30.7–31.1 %), the caller's CPU a call went
        /// from 4.6–6.4 µs to 3.2 µs, and one call in flight took 0.93–0.94
        /// of the time. Set `false` for callers that as a rule compute for
        /// long after their calls: each such step costs the reactor a
        /// hand-off to a new thread.
        public var resumesCallersOnReactor = true

        /// Creates a configuration.
        public init(
            name: String,
            discovery: any Discovery,
            endpoint: String? = nil,
            defaultTimeout: Duration = .seconds(10),
            queueCapacity: Int = 1024,
            clock: any Clock<Duration> = ContinuousClock(),
            logger: Logger = .quiet("cort"),
            heartbeat: HeartbeatConfiguration = HeartbeatConfiguration(),
            callLimits: CallLimits = CallLimits(),
            drainGrace: Duration = .milliseconds(250),
            maxMessageBytes: Int = 4 << 20,
            nodeLimits: NodeLimits = NodeLimits(),
            security: Security = .plaintext,
            clientInterceptors: [any ClientInterceptor] = [],
            serverInterceptors: [any ServerInterceptor] = [],
            metricsFactory: (any MetricsFactory)? = nil,
            tracer: (any Tracer)? = nil,
            instrumented: Bool = true,
            answerPolling: Duration = .microseconds(200),
            ioThreadScheduling: IOThreadScheduling = .batchWhenServing
        ) {
            self.name = name
            self.discovery = discovery
            self.endpoint = endpoint
            self.defaultTimeout = defaultTimeout
            self.queueCapacity = queueCapacity
            self.clock = clock
            self.logger = logger
            self.heartbeat = heartbeat
            self.callLimits = callLimits
            self.drainGrace = drainGrace
            self.maxMessageBytes = max(maxMessageBytes, 1024)
            self.nodeLimits = nodeLimits
            self.security = security
            self.clientInterceptors = clientInterceptors
            self.serverInterceptors = serverInterceptors
            self.metricsFactory = metricsFactory
            self.tracer = tracer
            self.instrumented = instrumented
            self.answerPolling = max(answerPolling, .zero)
            self.ioThreadScheduling = ioThreadScheduling
        }

        /// The interceptors around the calls the system makes: cort's own
        /// (when ``instrumented``), then ``clientInterceptors``.
        var clientChain: [any ClientInterceptor] {
            guard instrumented else { return clientInterceptors }
            return [TracingClientInterceptor(tracer: tracer), MetricsClientInterceptor(factory: metricsFactory)]
                + clientInterceptors
        }

        /// The interceptors around the calls a node runs: cort's own (when
        /// ``instrumented``), then ``serverInterceptors``.
        var serverChain: [any ServerInterceptor] {
            guard instrumented else { return serverInterceptors }
            return [TracingServerInterceptor(tracer: tracer), MetricsServerInterceptor(factory: metricsFactory)]
                + serverInterceptors
        }
    }

    let configuration: Configuration
    /// ``Configuration/clientChain``, made once.
    let clientChain: InterceptorChain<any ClientInterceptor>
    let reactor: ZeroMQReactor
    let context: ZeroMQContext
    let directory: ServiceDirectory
    let errors = ErrorRegistry()
    let clock: RuntimeClock
    let logger: Logger
    let limits: WireLimits
    private let state = Mutex(State())
    private let methodNames = Mutex(MethodInfoCache())
    /// The targets this node runs, checked exactly (see ``TargetCatalog``).
    let targets: TargetCatalog
    /// Calls this node ran through a replica's generated dispatch (`@CortService`); for tests.
    package let dispatchedCalls = Atomic<Int>(0)
    /// Those of them run by its synchronous half (methods that are not `async`); for tests.
    package let synchronouslyDispatchedCalls = Atomic<Int>(0)
    /// Reads every call's result: its `userInfo` holds this system, so actor
    /// references in a result resolve through it. One for the system rather
    /// than one a call (a dictionary, a hash of its key). Written once, at
    /// the end of `init`, before the system is shared; only read after.
    /// (It keeps the system alive, as its node and its proxies do: a system
    /// lives until the process ends; ``shutdown()`` stops its work.) Not
    /// checked for exclusivity at run time either: nothing writes it then.
    @exclusivity(unchecked) private nonisolated(unsafe) var resultDecoder = MessagePackDecoder()

    private struct State {
        var localActors: [String: WeakActor] = [:]
        var remoteServices: [String: RemoteServiceHandle] = [:]
        /// The remote services last called, by the name their ids give
        /// (see ``remoteService(for:)``): a call finds its own by comparing
        /// strings that are mostly the very same, without building its key
        /// and hashing it. At most ``recentRemoteLimit``.
        var recentRemotes: [(isService: Bool, name: String, service: RemoteService)] = []
        var node: NodeServer?
        var nodeTask: Task<Void, Never>?
        /// A CURVE node's ZAP handler and allow-list watcher.
        var securityTasks: [Task<Void, Never>] = []
        var zapHandler: ZAPHandler?
        var isShutDown = false
        /// Tasks in ``waitUntilShutDown()``, by ticket.
        var shutDownWaiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter: UInt64 = 0
    }

    /// How many remote services ``State/recentRemotes`` holds.
    private static let recentRemoteLimit = 4

    /// Numbers the systems of this process, to name each one's libzmq
    /// threads apart (`<n>/ZMQbg/IO/0`, within a thread name's 15 bytes).
    /// It wraps after 999: a context whose name another one shares finds
    /// more threads than it has, and reads no waits (see
    /// ``ZeroMQContext/ioThreadSamples()``).
    private static let contextsMade = Atomic<UInt32>(0)

    /// The next context's thread name prefix, from 1 to 999.
    private static func nextThreadNamePrefix() -> Int32 {
        Int32(contextsMade.wrappingAdd(1, ordering: .relaxed).newValue % 999 + 1)
    }

    private struct RemoteServiceHandle {
        let service: RemoteService
        let tasks: [Task<Void, Never>]
    }

    private final class WeakActor: @unchecked Sendable {
        // @unchecked: `actor` is written once in init and only read after;
        // weak loads are atomic in the Swift runtime.
        weak var actor: (any DistributedActor)?
        init(_ actor: any DistributedActor) { self.actor = actor }
    }

    private init(configuration: Configuration, reactor: ZeroMQReactor, context: ZeroMQContext) {
        self.configuration = configuration
        self.clientChain = InterceptorChain(configuration.clientChain)
        self.reactor = reactor
        self.context = context
        self.clock = RuntimeClock(configuration.clock)
        self.logger = configuration.logger
        self.limits = WireLimits(maxMessageBytes: configuration.maxMessageBytes)
        self.targets = TargetCatalog(capacity: configuration.nodeLimits.knownTargets)
        self.directory = ServiceDirectory(discovery: configuration.discovery, clock: configuration.clock,
                                          logger: configuration.logger)
        resultDecoder.userInfo[.actorSystemKey] = self
    }

    /// Starts a system: its reactor thread and, when the configuration has an
    /// endpoint, its bound ROUTER.
    public static func start(_ configuration: Configuration) throws -> CortSystem {
        let reactor = try ZeroMQReactor.start(name: "cort-\(configuration.name)".prefix(15).description,
                                              answerPolling: configuration.answerPolling,
                                              resumesGlobalJobs: configuration.resumesCallersOnReactor)
        let system: CortSystem
        do {
            let context = try ZeroMQContext(
                threadScheduling: configuration.ioThreadScheduling.contextScheduling(serving: configuration.endpoint != nil),
                threadNamePrefix: nextThreadNamePrefix())
            system = CortSystem(configuration: configuration, reactor: reactor, context: context)
            do {
                try system.startAuthenticating()
                if let endpoint = configuration.endpoint {
                    try system.startServing(on: endpoint)
                }
            } catch {
                for task in system.state.withLock({ $0.securityTasks }) { task.cancel() }
                throw error
            }
        } catch {
            reactor.shutdown()
            throw error
        }
        return system
    }

    /// An executor for tasks that should run on this system's reactor thread.
    ///
    /// A caller task on the global pool goes on on the reactor after each
    /// call, up to its next suspension (``Configuration/resumesCallersOnReactor``),
    /// and its next call from there; its first call, and a caller whose
    /// steps keep the reactor busy, send from the pool's threads and cross
    /// once per call. A caller that mostly awaits calls can run on the
    /// reactor from the start:
    ///
    /// ```swift
    /// let greeting = try await Task(executorPreference: system.taskExecutor) {
    ///     try await greeter.hello(name: "Ada")
    /// }.value
    /// ```
    ///
    /// Whatever such a task computes holds the reactor, and with it every
    /// call of this system, for that long: keep it to awaiting calls.
    public var taskExecutor: any TaskExecutor { reactor.taskExecutor }

    /// The endpoint this system serves on (with the port chosen for port 0), or nil.
    public var endpoint: String? {
        state.withLock { $0.node?.endpoint }
    }

    /// Registers an error type that methods may throw: on the caller it is
    /// rethrown as itself. Register it on the nodes and on the callers; or
    /// declare it in the service's ``CortService/remoteErrors``, which both
    /// sides read from the type.
    public func registerError<E: Error & Codable & Sendable>(_ type: E.Type) {
        errors.register(type)
    }

    /// Registers the errors a service type declares.
    func registerErrors(declaredBy service: any CortService.Type) {
        for type in service.remoteErrors { errors.register(type) }
    }

    /// Stops everything: deregisters the hosted services, finishes the calls
    /// in flight on this node, and stops the reactor.
    public func shutdown() async {
        let (node, nodeTask, remotes, waiters, securityTasks) = state.withLock { state in
            state.isShutDown = true
            defer {
                state.remoteServices = [:]
                state.recentRemotes = []
                state.node = nil
                state.nodeTask = nil
                state.shutDownWaiters = [:]
                state.securityTasks = []
            }
            return (state.node, state.nodeTask, Array(state.remoteServices.values), Array(state.shutDownWaiters.values),
                    state.securityTasks)
        }
        defer { for waiter in waiters { waiter.resume() } }
        if let node {
            await node.drain()
        }
        nodeTask?.cancel()
        await nodeTask?.value
        for remote in remotes {
            for task in remote.tasks { task.cancel() }
            remote.service.close()
        }
        for task in securityTasks {
            task.cancel()
            await task.value
        }
        await reactor.stop()
    }

    /// Returns once ``shutdown()`` has begun, or when the task is cancelled.
    func waitUntilShutDown() async {
        let ticket = state.withLock { state in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.isShutDown || Task.isCancelled { return true }
                    state.shutDownWaiters[ticket] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.shutDownWaiters.removeValue(forKey: ticket) }?.resume()
        }
    }

    // MARK: Serving

    private func startServing(on endpoint: String) throws {
        let node = try NodeServer(system: self, endpoint: endpoint)
        let task = Task { await node.run() }
        state.withLock {
            $0.node = node
            $0.nodeTask = task
        }
    }

    /// A CURVE node's gatekeeper: the ZAP handler is bound before the node's
    /// socket, so no client is ever let in unchecked, and an allow-list read
    /// from a file is watched for as long as the system runs.
    private func startAuthenticating() throws {
        guard configuration.security.isEncrypted, configuration.endpoint != nil else { return }
        guard let allowList = configuration.security.allowedCallers else {
            throw ConfigurationError(.invalidKey, "a CURVE node needs the callers it allows: "
                                     + "Security.curve(keyPair:allowedCallers:) (CORT_CURVE_ALLOWED_CALLERS_FILE)")
        }
        let handler = try ZAPHandler(system: self, allowList: allowList)
        var tasks = [Task { await handler.run() }]
        if allowList.path != nil {
            let clock = configuration.clock
            let logger = self.logger
            // On the reactor's thread, not the global pool: a revoked key
            // loses access on time however busy the pool is (a stat and a
            // small read every interval).
            tasks.append(Task(executorPreference: reactor.taskExecutor) {
                await allowList.watch(every: Self.allowListCheckInterval, clock: clock, logger: logger)
            })
        }
        state.withLock {
            $0.zapHandler = handler
            $0.securityTasks = tasks
        }
    }

    /// How often a node looks whether its allow-list file changed.
    static let allowListCheckInterval = Duration.milliseconds(100)

    /// The node's ZAP handler, for tests.
    var authenticator: ZAPHandler? { state.withLock { $0.zapHandler } }

    func nodeServer() throws -> NodeServer {
        let (node, isShutDown) = state.withLock { ($0.node, $0.isShutDown) }
        if isShutDown { throw ConfigurationError(.shutDown, "this system is shut down; it hosts nothing more") }
        guard let node else {
            throw ConfigurationError(.noEndpoint, "this system serves no endpoint: set Configuration.endpoint to host services")
        }
        return node
    }

    // MARK: DistributedActorSystem

    /// Set while a hosted service's replicas are made, so they get its name.
    @TaskLocal static var replicaName: (service: String, index: Int)?

    public func resolve<Act>(id: ActorID, as actorType: Act.Type) throws -> Act?
    where Act: DistributedActor, Act.ID == ActorID {
        guard let instance = id.instance, id.endpoint == nil || id.endpoint == endpoint else { return nil }
        guard let actor = localActor(instance: instance) else { return nil }
        guard let typed = actor as? Act else {
            throw RemoteCallError(.unknownTarget, "\(id) is a \(type(of: actor)), not a \(Act.self)")
        }
        return typed
    }

    public func assignID<Act>(_ actorType: Act.Type) -> ActorID
    where Act: DistributedActor, Act.ID == ActorID {
        let unique = Self.randomHex(8)
        if let replica = Self.replicaName {
            return CortActorID(service: replica.service, instance: "\(replica.service)#\(replica.index)-\(unique)",
                               endpoint: endpoint, nodeKey: configuration.security.publicKey?.z85)
        }
        return CortActorID(service: String(describing: actorType), instance: unique, endpoint: endpoint,
                           nodeKey: configuration.security.publicKey?.z85)
    }

    public func actorReady<Act>(_ actor: Act) where Act: DistributedActor, Act.ID == ActorID {
        guard let instance = actor.id.instance else { return }
        state.withLock { $0.localActors[instance] = WeakActor(actor) }
    }

    public func resignID(_ id: ActorID) {
        guard let instance = id.instance else { return }
        state.withLock { _ = $0.localActors.removeValue(forKey: instance) }
    }

    /// A local actor by instance id (for the node that runs calls on it).
    func localActor(instance: String) -> (any DistributedActor)? {
        state.withLock { $0.localActors[instance]?.actor }
    }

    public func makeInvocationEncoder() -> InvocationEncoder {
        CortInvocationEncoder()
    }

    // Inlinable for the reason `CortInvocationEncoder.recordArgument` is:
    // the distributed thunk calls it without `Res`'s conformances, and a
    // body here looked them up on every call (about 600 instructions); the
    // thunk calls the helper below with `Res: Decodable` known.
    @inlinable
    public func remoteCall<Act, Err, Res>(
        on actor: Act,
        target: RemoteCallTarget,
        invocation: inout InvocationEncoder,
        throwing: Err.Type,
        returning: Res.Type
    ) async throws -> Res where Act: DistributedActor, Act.ID == ActorID, Err: Error, Res: Codable {
        try await remoteCall(on: actor, target: target, invocation: &invocation, returning: Res.self)
    }

    /// ``remoteCall(on:target:invocation:throwing:returning:)`` with the
    /// result's conformance passed in.
    @usableFromInline
    func remoteCall<Act: DistributedActor, Res: Decodable>(
        on actor: Act, target: RemoteCallTarget, invocation: inout InvocationEncoder, returning: Res.Type
    ) async throws -> Res where Act.ID == ActorID {
        let outgoing = try outgoing(on: actor.id, of: Act.self, target: target, invocation: &invocation)
        guard let bytes = try await perform(outgoing) else {
            throw RemoteCallError(.protocolError, "the reply carries no result, expected a \(Res.self)")
        }
        do {
            return try resultDecoder.decode(Res.self, from: bytes)
        } catch {
            throw RemoteCallError(.protocolError, "the result is not a \(Res.self)", cause: error)
        }
    }

    public func remoteCallVoid<Act, Err>(
        on actor: Act,
        target: RemoteCallTarget,
        invocation: inout InvocationEncoder,
        throwing: Err.Type
    ) async throws where Act: DistributedActor, Act.ID == ActorID, Err: Error {
        _ = try await perform(try outgoing(on: actor.id, of: Act.self, target: target, invocation: &invocation))
    }

    // MARK: Calls

    /// What a call sends, worked out before the first suspension, so a
    /// waiting call keeps as few async frames as a typed call needs.
    private struct OutgoingCall {
        var id: ActorID
        var target: String
        var method: String
        var idempotent: Bool
        var options: CallOptions
        var arguments: [[UInt8]]
        var errorsDeclaredBy: (any CortService.Type)?
    }

    private func outgoing<Act: DistributedActor>(on id: consuming ActorID, of actorType: Act.Type, target: RemoteCallTarget,
                                                 invocation: inout InvocationEncoder) throws -> OutgoingCall {
        try invocation.doneRecording()
        let options = id.callOptions.map { CallOptions.current.merged(over: $0) } ?? CallOptions.current
        let method = methodInfo(of: target, on: actorType)
        return OutgoingCall(id: id, target: target.identifier, method: method.name,
                            idempotent: options.idempotent || method.idempotent, options: options,
                            arguments: invocation.arguments, errorsDeclaredBy: method.errorsDeclaredBy)
    }

    /// Calls `target` of the service `service` with arguments already in
    /// MessagePack (one per parameter), as a typed call would: same
    /// deadlines, interceptors, failover and errors. For tools that learn a
    /// method from `describe` rather than from a Swift type (`cort call`,
    /// `cort bench`). `CallOptions.current` applies; the result is the
    /// reply's MessagePack bytes, nil for a method returning `Void`.
    package func call(service: String, target: String, method: String, arguments: [[UInt8]],
                      idempotent: Bool = false) async throws -> [UInt8]? {
        guard arguments.count <= limits.maxArguments else {
            throw RemoteCallError(.badArguments, "a call takes at most \(limits.maxArguments) arguments")
        }
        let options = CallOptions.current
        return try await perform(OutgoingCall(id: .service(service), target: target, method: method,
                                              idempotent: options.idempotent || idempotent, options: options,
                                              arguments: arguments, errorsDeclaredBy: nil))
    }

    // Inlined into its callers: one async frame fewer a call.
    @inline(__always)
    private func perform(_ outgoing: OutgoingCall) async throws -> [UInt8]? {
        // Read in place rather than copied out (an id is five strings: a
        // copy is five retains and, later, five releases).
        let options = outgoing.options
        let idempotent = outgoing.idempotent
        var timeout = options.timeout ?? configuration.defaultTimeout
        let served = CallContext.current
        if let served {
            // A call made while serving one has what is left of that one's
            // time (or less, when it asks for less).
            timeout = options.timeout.map { min($0, served.timeRemaining) } ?? served.timeRemaining
        }
        let now = clock.now
        let deadline = now + timeout
        var flags = CallFlags()
        if idempotent { flags.insert(.idempotent) }
        let request = CallRequest(
            id: 0, service: outgoing.id.service, actor: outgoing.id.instance, target: outgoing.target,
            method: outgoing.method, timeout: timeout, flags: flags,
            metadata: options.metadata, arguments: outgoing.arguments)
        let remote = try remoteService(for: outgoing.id)
        let chain = clientChain
        let service = outgoing.errorsDeclaredBy
        guard chain.isActive else {
            // The caller's own thread takes the remote service's lock and
            // sends: no hop to the reactor. Its answer resumes it on the
            // global pool (or on the reactor, for a caller that prefers it).
            // No interceptor reads a successful call's attempts.
            let (answer, attempts) = try await remote.call(request, started: now, deadline: deadline,
                                                           idempotent: idempotent, recordsValues: false,
                                                           goesOnOnReactor: served == nil)
            return try result(of: answer, attempts: attempts, errorsDeclaredBy: service).bytes
        }
        let call = ClientCall(service: outgoing.id.service, method: outgoing.method, metadata: options.metadata,
                              timeout: timeout, isIdempotent: idempotent, isInstanceCall: !outgoing.id.isService)
        return try await Self.run(call, through: chain.interceptors[...]) { call in
            var request = request
            request.metadata = call.metadata
            request.timeout = call.timeout
            request.flags = call.isIdempotent ? [.idempotent] : []
            let now = clock.now
            let (answer, attempts) = try await remote.call(request, started: now, deadline: now + call.timeout,
                                                           idempotent: call.isIdempotent, goesOnOnReactor: served == nil)
            return try result(of: answer, attempts: attempts, errorsDeclaredBy: service)
        }.bytes
    }

    /// Runs `call` through `interceptors`, the first outermost, and `body` inside them all.
    static func run(_ call: ClientCall, through interceptors: ArraySlice<any ClientInterceptor>,
                    _ body: (ClientCall) async throws -> ClientCallResult) async throws -> ClientCallResult {
        guard let first = interceptors.first else { return try await body(call) }
        return try await first.intercept(call) { next in
            try await run(next, through: interceptors.dropFirst(), body)
        }
    }

    /// A call's answer as a result, or as the error it carries. Not async:
    /// each async function a call passes through costs it a frame and a
    /// switch check.
    private func result(of answer: RemoteService.Answer, attempts: [CallAttempt],
                        errorsDeclaredBy declaring: (any CortService.Type)?) throws -> ClientCallResult {
        switch answer {
        case .value(let bytes):
            return ClientCallResult(bytes: bytes, attempts: attempts)
        case .failure(let failure):
            if failure.errorType != nil, let declaring {
                registerErrors(declaredBy: declaring)
            }
            let error = errors.error(for: failure)
            guard var remoteError = error as? RemoteCallError else { throw error }
            remoteError.attempts = attempts
            throw remoteError
        }
    }

    /// A target's readable name and whether its actor type lists it in
    /// ``IdempotentMethods``, worked out once per target and remembered.
    func methodInfo<Act: DistributedActor>(of target: RemoteCallTarget, on actorType: Act.Type) -> MethodInfo {
        let identifier = target.identifier
        if let info = methodNames.withLock({ $0.info(for: identifier) }) { return info }
        let name = readableMethodName(fromMangled: identifier)
        var idempotent = false
        if let marked = actorType as? any IdempotentMethods.Type {
            // "Ledger.balance(of:)" is listed as "balance(of:)".
            idempotent = marked.idempotentMethods.contains(methodNameWithoutType(name))
        }
        let info = MethodInfo(name: name, idempotent: idempotent, errorsDeclaredBy: actorType as? any CortService.Type)
        methodNames.withLock { $0.remember(info, for: identifier) }
        return info
    }

    /// Every target's ``MethodInfo`` a caller worked out, and the last few
    /// in a list: a distributed thunk names its target with the same string
    /// constant every call, so comparing with it is a comparison of two
    /// words, where the table hashes the whole mangled name (about 700
    /// instructions a call on the caller, callgrind).
    struct MethodInfoCache {
        private var all: [String: MethodInfo] = [:]
        private var recent: [(identifier: String, info: MethodInfo)] = []
        static let recentLimit = 8

        mutating func info(for identifier: String) -> MethodInfo? {
            for entry in recent where entry.identifier == identifier { return entry.info }
            guard let info = all[identifier] else { return nil }
            if recent.count == Self.recentLimit { recent.removeFirst() }
            recent.append((identifier, info))
            return info
        }

        mutating func remember(_ info: MethodInfo, for identifier: String) {
            all[identifier] = info
        }
    }

    /// What a caller needs to know of a method, besides its target.
    struct MethodInfo: Sendable {
        /// The readable name (`"Greeter.hello(name:)"`), for logs and errors.
        let name: String
        /// Whether the actor type lists it in ``IdempotentMethods``.
        let idempotent: Bool
        /// The actor type as a ``CortService``, whose declared errors an
        /// answer's error is looked up in; kept here because the cast costs
        /// a conformance lookup (about 900 instructions) on every call.
        let errorsDeclaredBy: (any CortService.Type)?
    }

    /// For tests: the caller-side actor of `service`, once a call made it.
    func existingRemoteService(_ service: String) -> RemoteService? {
        state.withLock { $0.remoteServices["service:\(service)"]?.service }
    }

    /// The caller-side actor for the service (or the single node) `id` names.
    private func remoteService(for id: ActorID) throws -> RemoteService {
        if !id.isService && id.endpoint == nil {
            throw RemoteCallError(.unknownTarget, "\(id) is not reachable: its system serves no endpoint")
        }
        let name = id.isService ? id.service : id.endpoint ?? ""
        return try state.withLock { state in
            if state.isShutDown {
                throw RemoteCallError(.shuttingDown, "the actor system is shut down")
            }
            for entry in state.recentRemotes where entry.isService == id.isService && entry.name == name {
                return entry.service
            }
            let key = id.isService ? "service:\(name)" : "endpoint:\(name)"
            if let handle = state.remoteServices[key] {
                if state.recentRemotes.count == Self.recentRemoteLimit { state.recentRemotes.removeFirst() }
                state.recentRemotes.append((id.isService, name, handle.service))
                return handle.service
            }
            // Made and started under the lock, so a concurrent shutdown either
            // finds it (and cancels its tasks) or refuses it.
            let remote = try RemoteService(name: key, service: id.isService ? id.service : CallMetrics.instances,
                                           system: self)
            // Answers and connection events are read on the reactor, which
            // polls for them: no hop to the global pool to read them.
            let receiving = Task(executorPreference: reactor.taskExecutor) { await remote.run() }
            let watching = Task(executorPreference: reactor.taskExecutor) { await remote.watchConnections() }
            let feeding: Task<Void, Never>
            if let endpoint = id.endpoint, !id.isService {
                let node = ServiceInstance(
                    service: id.service, id: "direct@\(endpoint)", endpoint: endpoint,
                    metadata: id.nodeKey.map { [ServiceInstance.curveKeyMetadataKey: $0] } ?? [:])
                feeding = Task { remote.update(nodes: [node]) }
            } else {
                let service = id.service
                feeding = Task { [directory] in
                    for await update in await directory.updates(for: service) {
                        switch update {
                        case .nodes(let nodes): remote.update(nodes: nodes)
                        case .failed(let error): remote.discoveryFailed(error)
                        }
                    }
                }
            }
            state.remoteServices[key] = RemoteServiceHandle(service: remote, tasks: [receiving, watching, feeding])
            return remote
        }
    }

    static func randomHex(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var text = ""
        for _ in 0..<bytes {
            let byte = UInt8.random(in: 0...255, using: &generator)
            let digits = String(byte, radix: 16)
            text += byte < 0x10 ? "0" + digits : digits
        }
        return text
    }
}

extension CortSystem {
    /// How libzmq's I/O threads of a system are scheduled (see
    /// ``Configuration/ioThreadScheduling``).
    public enum IOThreadScheduling: String, Sendable, CaseIterable {
        /// ``batch`` for a system that serves (has an endpoint), ``inherited``
        /// for one that only calls (the default).
        case batchWhenServing
        /// Linux's `SCHED_BATCH`: a woken I/O thread does not preempt the
        /// running thread, and moves messages in bursts. Where the system
        /// has no such policy or refuses it, as ``inherited``.
        case batch
        /// As the thread that started the system (libzmq's own default).
        case inherited

        /// The context's scheduling, for a system that serves or not.
        func contextScheduling(serving: Bool) -> ZeroMQContext.ThreadScheduling {
            switch self {
            case .batchWhenServing: serving ? .batch : .inherited
            case .batch: .batch
            case .inherited: .inherited
            }
        }
    }
}
