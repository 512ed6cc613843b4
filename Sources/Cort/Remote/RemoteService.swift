import CortZeroMQ
import DequeModule
import Logging
import Synchronization

/// The caller's side of one remote service: one ROUTER connected to every
/// node of the service, the node list with each node's health, and the
/// calls in flight.
///
/// It is the ZeroMQ Guide's Freelance pattern: it pings quiet nodes
/// (``NodeHealth``), sends calls to live nodes with room, and settles the
/// calls of a node that fails by the rules of ``Failover``. While nodes it
/// just connected to are joining, a node that answered takes no more than
/// its share of the calls at hand (``JoiningShare``), so the first burst of
/// a fresh caller is spread over its nodes rather than sent to the first one
/// to answer.
///
/// All of its state, the socket with it, sits behind one lock
/// (``RemoteServiceState``). A call suspends once for each attempt, on a
/// continuation of its own: inside that suspension, under the lock, it picks
/// a node, sends and files the continuation, or files it as waiting for a
/// node; when the lock is taken, its holder does that for it
/// (``submit(_:)``). Whoever ends the attempt (the answer, its deadline, the
/// node's failure, a cancel) resumes the continuation after leaving the
/// lock. The caller's task sends on its own thread, with no hop to the
/// reactor and no wake-up of it; the reactor polls only the socket's
/// descriptor and reads what arrives (``run()``). (It was an actor: a call
/// entered it, left it to wait for its answer in a slot, and each answer
/// was handed over through a job on the reactor.)
final class RemoteService: Sendable {
    /// What a node answered.
    enum Answer: Sendable {
        case value([UInt8]?)
        case failure(CallFailure)
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

    /// How one step of an attempt ended, for the call waiting on it.
    struct Step: Sendable {
        /// Where and when the attempt was sent, once it was (even when the
        /// send failed): the call records it.
        let sent: Sent?
        /// What the attempt came to; nil when the call waited for a node
        /// and should look again.
        let outcome: Result<AttemptResult, RemoteCallError>?
    }

    /// Where a call's task waits for one step of an attempt, and whether
    /// it goes on on the reactor when the reactor resumes it (see
    /// ``resume(_:)``): not a call made by a hosted method, whose replica
    /// may run on the global pool, which is what that executor promises it.
    struct Continuation: Sendable {
        let waiting: UnsafeContinuation<Step, Never>
        let goesOnOnReactor: Bool

        func resume(returning step: Step) { waiting.resume(returning: step) }
    }

    /// A continuation to resume, and with what, once the lock is left.
    struct Resumption: Sendable {
        let continuation: Continuation
        let step: Step

        func resume() { continuation.resume(returning: step) }
    }

    /// The calls one holder of the lock settled: the first kept apart, so
    /// that settling one call (the common case) fills no array.
    struct Settled: Sendable {
        var first: Resumption?
        var more: [Resumption] = []
        /// The holder reserved the outbox's flush for after these are
        /// resumed (see `RemoteServiceState.reserveFlush`).
        var flushesAfter = false

        /// Some of them do not go on on the reactor (``Continuation/goesOnOnReactor``).
        var someLeaveReactor = false

        func resumeAll() {
            first?.resume()
            for resumption in more { resumption.resume() }
        }

        /// Resumes those whose `goesOnOnReactor` is `onReactor`.
        func resumeAll(goingOnOnReactor onReactor: Bool) {
            if let first, first.continuation.goesOnOnReactor == onReactor { first.resume() }
            for resumption in more where resumption.continuation.goesOnOnReactor == onReactor { resumption.resume() }
        }
    }

    /// One step of an attempt, as its call hands it to whoever holds the
    /// lock (see ``submit(_:)``).
    struct Submission: Sendable {
        let request: CallRequest
        let id: UInt64
        let deadline: Duration
        let refused: Set<String>
        let lastRefusal: CallFailure?
        /// The call already counts among those looking for a node (it
        /// waited for one and was woken to look again).
        let acquiring: Bool
        let continuation: Continuation
    }

    /// Where and when an attempt was sent (for ``CallAttempt``).
    struct Sent: Sendable {
        let node: String
        /// When it was sent, on the system's clock.
        let at: Duration

        /// What the call's error or result says of this attempt, ended `now`.
        func record(_ outcome: CallAttempt.Outcome, callStarted: Duration, now: Duration) -> CallAttempt {
            CallAttempt(node: node, outcome: outcome, startedAfter: at - callStarted, duration: now - at)
        }
    }

    let name: String
    private let reactor: ZeroMQReactor
    private let clock: RuntimeClock
    private let logger: Logger
    private let limits: WireLimits
    /// The ROUTER's descriptor (`ZMQ_FD`), which ``run()`` waits on.
    private let descriptor: Int32
    /// Where libzmq reports connections that dropped (a node that died or
    /// closed), so their calls are settled at once rather than after the
    /// heartbeat's liveness timeout. Used by ``watchConnections()`` alone
    /// once made (one task), hence unchecked.
    private nonisolated(unsafe) let connectionEvents: ZeroMQSocket
    /// Ids of calls: unguessable, so a node cannot answer calls it never
    /// got; taken before the lock, so a cancel handler knows its call's.
    private let callIDs = CallIDs()
    /// The state's lock: a pthread mutex, not `Mutex`. On Linux, `Mutex` is
    /// a priority-inheriting futex: its try-lock that finds the lock taken
    /// is a system call (`FUTEX_TRYLOCK_PI`) that also sends the holder's
    /// unlock through the kernel, and a waiter spins 500 rounds of `pause`
    /// before it sleeps in the kernel's `FUTEX_LOCK_PI`. At 64 calls in
    /// flight the caller made 0.29–0.31 futex calls a call with it and
    /// 0.16 with this (`perf stat -e syscalls:sys_enter_futex`, 200,000
    /// calls, two runs each); glibc's adaptive mutex, which spins a little
    /// first, made no fewer (0.15–0.18) nor fewer context switches.
    private let state: BlockingLock<RemoteServiceState>
    /// Steps of calls that found the lock taken, for its holder to run
    /// before it lets go (see ``submit(_:)``), and how many there are.
    private let inbox = BlockingLock<[Submission]>([])
    private let inboxCount = Atomic<Int>(0)
    /// Set while a thread holds `state`'s lock (from just after it takes it
    /// to just before it lets go), so that a caller finding it set files its
    /// step without trying the lock (a try-lock is a compare-and-swap that
    /// takes the lock's cache line from its holder; this is a read). Set
    /// means the lock was taken when it was read, which is all a failed
    /// try-lock says (see ``inboxFilled()`` for the ordering).
    private let stateHeld = Atomic<Bool>(false)

    /// `service` is the service it calls, for metrics (``CallMetrics/instances``
    /// for a direct connection to the node of an actor instance).
    init(name: String, service: String, system: CortSystem) throws {
        self.name = name
        reactor = system.reactor
        clock = system.clock
        logger = system.logger
        limits = system.limits
        let eventsEndpoint = "inproc://cort-remote-service-\(CortSystem.randomHex(8))"
        let state = try RemoteServiceState(name: name, service: service, system: system, eventsEndpoint: eventsEndpoint)
        descriptor = state.descriptor
        connectionEvents = try ZeroMQSocket(.pair, context: system.context, reactor: system.reactor)
        try connectionEvents.set(.receiveHighWaterMark, 0)
        try connectionEvents.connect(eventsEndpoint)
        self.state = BlockingLock(state)
        self.state.withLock { $0.owner = self }
    }

    /// Runs `body` under the lock, then resumes the calls it settled.
    ///
    /// Resumed after the lock is left, so a caller resumed on another
    /// thread does not find the lock still taken by the one that read its
    /// answer. The steps that calls left in the inbox run first: a cancel
    /// then finds its call filed.
    @inline(__always)
    private func withState<Result: Sendable>(_ body: (RemoteServiceState) -> Result) -> Result {
        let (result, settled) = state.withLock { holding(&$0, body) }
        resume(settled)
        drainInbox()
        return result
    }

    /// Runs `body` under the lock when it is free (`stateHeld` clear, then
    /// a try-lock), as ``withState(_:)`` does but without resuming; nil,
    /// having run nothing, when it is taken.
    @inline(__always)
    private func withStateIfFree<Result: Sendable>(_ body: (RemoteServiceState) -> Result) -> (Result, Settled)? {
        guard !stateHeld.load(ordering: .sequentiallyConsistent) else { return nil }
        return state.withLockIfAvailable { holding(&$0, body) }
    }

    /// What every holder of the lock does, the lock held: marks it held (for
    /// the callers that look before trying it), runs the filed steps, then
    /// `body`, and takes what they settled. Cleared before the lock is let go.
    @inline(__always)
    private func holding<Result: Sendable>(_ state: inout RemoteServiceState,
                                           _ body: (RemoteServiceState) -> Result) -> (Result, Settled) {
        stateHeld.store(true, ordering: .relaxed)
        defer { stateHeld.store(false, ordering: .sequentiallyConsistent) }
        runInbox(on: state)
        let result = body(state)
        return (result, state.takeSettled())
    }

    /// Whether steps wait in the inbox, looked at after letting go of the
    /// lock. The fence orders that letting go before this look, as the
    /// filer's lock-free attempt is ordered after its filing: of a filer that
    /// found the lock taken (or `stateHeld` set, which the holder clears
    /// before it lets go) and a holder that let go, one sees the other.
    @inline(__always)
    private func inboxFilled() -> Bool {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        return inboxCount.load(ordering: .sequentiallyConsistent) > 0
    }

    /// Runs a call's step now, on the caller's thread, when the lock is
    /// free; when it is taken, leaves the step to its holder, who runs it
    /// before letting go, so the caller neither waits nor spins for the
    /// lock (its task is suspended on the step's continuation either way).
    ///
    /// The lock's holders are the answer-reading loop on the reactor, other
    /// callers, timers: under load, one of them sends the calls that came
    /// meanwhile in one go, as an actor's queue did, where a plain lock made
    /// each caller wait its turn (callgrind, 64 calls in flight: a caller
    /// spun about 3,300 instructions a call for the lock).
    ///
    /// Returns whether the step ran here, on the caller's own task.
    @discardableResult
    private func submit(_ submission: Submission) -> Bool {
        let direct: Settled? = withStateIfFree { $0.start(submission, checksCancellation: true) }?.1
        if let direct {
            resume(direct)
        } else {
            inbox.withLock { inbox in
                inbox.append(submission)
                inboxCount.add(1, ordering: .sequentiallyConsistent)
            }
        }
        // Filed: the holder may have let go before the step was, so one of
        // the two runs it, whoever sees it second. Run here: steps filed
        // meanwhile by others.
        drainInbox()
        return direct != nil
    }

    /// Runs the filed steps while the lock is free and some are filed.
    private func drainInbox() {
        while inboxFilled() {
            // Taken: its holder runs them before it lets go, or after.
            guard let (_, settled) = withStateIfFree({ _ in }) else { return }
            resume(settled)
        }
    }

    /// Resumes the calls a holder of the lock settled, then queues the
    /// flush it reserved for after them, on the global pool: behind their
    /// jobs there, so the requests they file go with it.
    ///
    /// On the reactor's thread (reading answers, flushing, a caller it
    /// runs), the callers resumed go on there, after the current job
    /// (``CortSystem/Configuration/resumesCallersOnReactor``).
    @inline(__always)
    private func resume(_ settled: Settled) {
        guard settled.first != nil || settled.flushesAfter else { return }
        reactor.keepingGlobalJobs {
            if settled.someLeaveReactor { settled.resumeAll(goingOnOnReactor: true) } else { settled.resumeAll() }
            if settled.flushesAfter { flushOnPool(priority: nil) }
        }
        // Outside the capture: they go where they would have gone.
        if settled.someLeaveReactor { settled.resumeAll(goingOnOnReactor: false) }
    }

    /// Queues a flush of the outbox on the global pool, behind the jobs queued there.
    func flushOnPool(priority: TaskPriority?) {
        Task.detached(priority: priority) { [weak self] in self?.flushOutbox() }
    }

    /// Runs every filed step, under the state's lock.
    @inline(__always)
    private func runInbox(on state: RemoteServiceState) {
        guard inboxCount.load(ordering: .acquiring) > 0 else { return }
        let submissions = inbox.withLock { inbox in
            inboxCount.store(0, ordering: .releasing)
            defer { inbox = [] }
            return inbox
        }
        for submission in submissions {
            // Its caller looks for a cancel itself, on its own task (see `call`).
            state.start(submission, checksCancellation: false)
        }
    }

    // MARK: Nodes

    /// Connects to new nodes and lets the ones that left drain.
    func update(nodes instances: [ServiceInstance]) {
        withState { $0.update(nodes: instances) }
    }

    /// Discovery could not give a node list (Consul unreachable, a token it
    /// refuses): the last list stays in use, and calls that find no node say why.
    func discoveryFailed(_ error: any Error & Sendable) {
        withState { $0.discoveryFailed(error) }
    }

    // MARK: Calls

    /// Sends `request` to a node and waits for its answer until `deadline`,
    /// moving it to another node when ``Failover`` says so. `started`: when
    /// the call started, on the system's clock (its attempts are timed from it).
    ///
    /// `recordsValues`: whether the attempts of a call answered with a value
    /// are wanted (by interceptors); without them, such a call costs no
    /// array and no clock reading for its record. Errors always carry theirs.
    ///
    /// One function, with each attempt's steps in its loop: every async
    /// function a call passes through costs it a frame from the task's
    /// allocator and a switch check (about 300 instructions each, callgrind).
    /// Inlined into its callers for the same reason: at 64 calls in flight a
    /// caller ran 23,438–23,589 instructions a call inlined, 24,087–24,168
    /// not (callgrind, two runs each).
    ///
    /// `goesOnOnReactor`: whether the caller may go on on the reactor when
    /// the reactor resumes it (false for a call a hosted method makes).
    @inline(__always)
    func call(_ request: CallRequest, started: Duration, deadline: Duration, idempotent: Bool,
              recordsValues: Bool = true, goesOnOnReactor: Bool = true) async throws -> (answer: Answer, attempts: [CallAttempt]) {
        // Arguments over the limit on their own: refused before the lock is
        // taken and the envelope encoded (megabytes, under the lock for as
        // long as that takes, while its heartbeats and answers wait).
        let argumentBytes = request.arguments.reduce(0) { $0 + $1.count }
        if argumentBytes > limits.maxEnvelopeBytes {
            throw RemoteCallError(.messageTooLarge, "\(request.method): the request's arguments have \(argumentBytes) bytes, "
                                  + "over the limit of \(limits.maxEnvelopeBytes)")
        }
        var attempts: [CallAttempt] = []
        var refusedBy: Set<String> = []
        var lastRefusal: CallFailure?
        // Whether the call counts among those looking for a node (it waited
        // for one and was woken to look again).
        var acquiring = false
        while true {
            let id = callIDs.next()
            let (refused, refusal, counted) = (refusedBy, lastRefusal, acquiring)
            let step = await withTaskCancellationHandler {
                await withUnsafeContinuation { (waiting: UnsafeContinuation<Step, Never>) in
                    let continuation = Continuation(waiting: waiting, goesOnOnReactor: goesOnOnReactor)
                    let ranHere = submit(Submission(request: request, id: id, deadline: deadline, refused: refused,
                                                    lastRefusal: refusal, acquiring: counted,
                                                    continuation: continuation))
                    // A step run by the lock's holder did not look for a
                    // cancel of this task; a cancel that came before this
                    // look may have come before the step was filed, so it
                    // is made here (after the step ran), and one after it
                    // finds the step filed. A step run here looked itself.
                    if !ranHere && Task.isCancelled { withState { $0.cancel(id) } }
                }
            } onCancel: {
                withState { $0.cancel(id) }
            }
            let sent: Sent
            let result: AttemptResult
            switch step.outcome {
            case nil:
                acquiring = true
                continue
            case .failure(var error):
                if let sent = step.sent {
                    attempts.append(sent.record(.failed(error.code), callStarted: started, now: clock.now))
                }
                // Whatever ended the call, the error says what each attempt did.
                error.attempts = attempts
                throw error
            case .success(let outcome):
                guard let sentTo = step.sent else { preconditionFailure("an attempt ended before it was sent") }
                (sent, result) = (sentTo, outcome)
            }
            acquiring = false
            let decision = Failover.decide(result.attempt, idempotent: idempotent, method: request.method, node: sent.node)
            if !recordsValues, case .deliver = decision, case .answered(.value(let bytes)) = result {
                return (.value(bytes), attempts)
            }
            attempts.append(sent.record(result.outcome, callStarted: started, now: clock.now))
            switch decision {
            case .deliver:
                guard case .answered(let answer) = result else { continue }
                return (answer, attempts)
            case .tryAnotherNode:
                if case .answered(.failure(let refusal)) = result {
                    refusedBy.insert(sent.node)
                    lastRefusal = refusal
                    if refusal.code == .overloaded {
                        withState { $0.nodeRefused(sent.node) }
                    }
                }
                logger.debug("moving a call to another node", metadata: [
                    "cort.service": "\(name)", "cort.method": "\(request.method)", "cort.node": "\(sent.node)"])
            case .fail(let code, let message):
                var error = RemoteCallError(code, message)
                error.attempts = attempts
                throw error
            }
        }
    }

    // MARK: Timer and frames

    /// Expires deadlines and pings quiet nodes, when the state's timer fires.
    func timerFired() {
        withState { $0.timerFired() }
    }

    /// Sends the requests filed while many calls were in flight (see `RemoteServiceState.deferredSendsFrom`).
    func flushOutbox() {
        withState { $0.flushOutbox() }
    }

    /// For tests: keeps requests in the outbox until ``releaseFlushes()``;
    /// `filed` is called (under the lock) for each request filed there.
    func holdFlushes(filed: @escaping @Sendable () -> Void) {
        withState { state in
            state.flushesHeld = true
            state.filedInOutbox = filed
        }
    }

    /// For tests: sends what the outbox holds, and from now on as usual.
    func releaseFlushes() {
        withState { state in
            state.flushesHeld = false
            state.filedInOutbox = nil
            state.flushOutbox()
        }
    }

    /// For tests: the nodes the requests waiting in the outbox are for.
    var unsentNodeKeys: [String] {
        withState { $0.unsentNodeKeys }
    }

    /// Reads what a use of the socket left after reading a whole turn (see `RemoteServiceState.socketUsed()`).
    func readAfterUse() {
        withState { $0.readAfterUse() }
    }

    /// Receives answers and hands them to their callers until the reactor
    /// stops, the service closes or the task is cancelled.
    ///
    /// The reactor's loop polls the socket's descriptor and reads on its own
    /// thread, between jobs (``ZeroMQReactor/read(descriptor:isolation:turn:)``):
    /// a wake-up resumes no task and sets no wait up again (about 3,000
    /// instructions a call at one call in flight, callgrind). A turn reads
    /// at most ``NodeServer/framesPerTurn`` frames; a node that floods this
    /// caller is read again after the reactor's other jobs (deadlines,
    /// heartbeats), not before.
    func run() async {
        do {
            try await reactor.read(descriptor: descriptor, isolation: nil) { [self] in withState { $0.readTurn() } }
        } catch {
            if !withState({ $0.isClosed }) {
                logger.warning("the remote service stopped receiving", metadata: [
                    "cort.service": "\(name)", "cort.error": "\(error)"])
            }
        }
    }

    /// Settles the calls of nodes whose connection dropped, and stops
    /// waiting for joining nodes that cannot be connected to, until the
    /// reactor stops.
    func watchConnections() async {
        while true {
            let message: ZeroMQMessage
            do {
                message = try await connectionEvents.receiveOffReactor()
            } catch {
                return
            }
            guard let event = try? MonitorEvent(message) else { continue }
            if withState({ $0.connectionEvent(event) }) { return }
        }
    }

    /// Fails every waiting call and stops receiving.
    func close() {
        withState { $0.close() }
    }
}

/// What a ``RemoteService`` keeps behind its lock: its socket, its nodes,
/// the calls in flight and the calls waiting for a node. Every method runs
/// under that lock (the state lives in a ``BlockingLock``); what a method settles is
/// collected in `settled` and resumed by the service after the lock.
final class RemoteServiceState {
    typealias Answer = RemoteService.Answer
    typealias AttemptResult = RemoteService.AttemptResult
    typealias Continuation = RemoteService.Continuation

    /// One connection: a node's instance at one endpoint. An instance that
    /// moves to another endpoint is a new connection while the old one drains.
    /// A class: a call updates its node as it starts and ends, and a struct
    /// of this size in a dictionary costs a heap-allocated accessor frame per
    /// update (two allocations a call, measured with uprobes on malloc).
    private final class Node {
        // Its fields are not checked for exclusivity at run time: only the
        // lock's holder touches a node, and the check cost a runtime call at each of
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
    /// A request in ``outbox``: its call is in `pending` (on the connection it was filed for).
    private struct Unsent {
        let id: UInt64
        let envelope: [UInt8]
        /// A flush took it (in a batch, or ended it unsent).
        var taken = false
    }

    /// With this many calls of the service in flight, a request is not sent
    /// by its caller's thread but filed in ``outbox``, and one flush queued
    /// behind the callers then running sends all that are filed, at once
    /// (see ``queueFlush()``).
    ///
    /// Requests that leave one at a time, from callers resumed one after the
    /// other, each wake libzmq's I/O thread and make a TCP segment of their
    /// own: at 64 calls in flight a caller's requests left four or five to a
    /// `sendto(2)` (a node's answers, sent in batches, 16; the C echo's 50),
    /// and its I/O thread took the largest share of its CPU. Below the mark
    /// a request leaves at once: a filed request waits for the reactor to
    /// wake, which the calls then in flight do not cover. (From 8, 16 calls
    /// in flight took 1.12 times as long as with every request sent at once,
    /// 12 rounds; from 32, 64 and 256 in flight took 0.88 and 0.89 times as
    /// long, 12 and 8 rounds, and 48 in flight 0.93.)
    static let deferredSendsFrom = 32

    private struct PendingCall {
        /// Where its caller waits; resumed exactly once, by whoever takes the call out of `pending`.
        let continuation: Continuation
        /// The node it went to (it stays in `nodes` while calls are in flight on it).
        let node: Node
        /// The connection it went out on: only that connection may answer it.
        let connection: Int
        let method: String
        let deadline: Duration
        /// Where and when it was sent, for its call's record.
        let sent: RemoteService.Sent
    }

    /// A call waiting for a node to take it (no node list yet, no live node,
    /// or all full). It counts in `callsAcquiring` until it is sent or ends.
    private struct Waiter {
        /// Resumed to look again, or with the error that ends the call.
        let continuation: Continuation
        let deadline: Duration
        let method: String
        let refused: Set<String>
        /// Why it waits: what its error says when its deadline passes.
        let pick: Pick
    }

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
    /// The service this state belongs to: its timers and follow-up reads
    /// call it (weak: the service owns this).
    weak var owner: RemoteService?
    private let reactor: ZeroMQReactor
    private let socket: ZeroMQSocket
    /// The socket's descriptor (`ZMQ_FD`).
    let descriptor: Int32
    private let clock: RuntimeClock
    private let logger: Logger
    private let limits: WireLimits
    private let heartbeat: HeartbeatConfiguration
    private let callLimits: CallLimits

    // The state every call touches, several times each, is not checked for
    // exclusivity at run time (`@exclusivity(unchecked)`): the lock already
    // keeps other threads out, the runtime's check sees overlaps on one
    // thread only, and the checks cost about 2,000 instructions a call on
    // the caller (callgrind, one call in flight: about 460 left with these
    // unchecked).

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
    /// Calls looking for a node: the one picking now and those waiting (or
    /// woken to look again). With those in flight, the calls at hand a
    /// node's ``JoiningShare`` is of.
    @exclusivity(unchecked) private var callsAcquiring = 0
    /// Whether a node may be joining; false once a look found none, so calls
    /// pay for looking only in the grace after nodes were connected to.
    @exclusivity(unchecked) private var mayHaveJoining = false
    @exclusivity(unchecked) private var waiters: [UInt64: Waiter] = [:]
    @exclusivity(unchecked) private var waitOrder = Deque<UInt64>()
    @exclusivity(unchecked) private var pending = CallIDTable<PendingCall>()
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
    /// Requests filed as in flight but not handed to libzmq yet: they leave
    /// together, in one flush (see ``deferredSendsFrom``).
    @exclusivity(unchecked) private var outbox: [Unsent] = []
    /// Its storage between flushes.
    @exclusivity(unchecked) private var spareOutbox: [Unsent] = []
    /// A flush of the outbox is queued, by the first filer since the last
    /// flush or by a reader that resumed callers (``reserveFlush(settled:before:)``).
    @exclusivity(unchecked) private var flushQueued = false
    /// The last request was filed on the reactor's thread (by a caller on the reactor).
    @exclusivity(unchecked) private var filesOnReactor = false
    /// The calls of the batch ``flushOutbox()`` sends (its storage kept between flushes).
    @exclusivity(unchecked) private var batchIDs: [UInt64] = []
    /// For tests: while set, ``flushOutbox()`` sends nothing.
    @exclusivity(unchecked) var flushesHeld = false
    /// For tests: called under the lock when a request is filed in the outbox.
    @exclusivity(unchecked) var filedInOutbox: (@Sendable () -> Void)?
    @exclusivity(unchecked) private(set) var isClosed = false
    /// Calls settled under the lock, resumed after it (``takeSettled()``).
    @exclusivity(unchecked) private var settled = RemoteService.Settled()

    /// Replies whose call was no longer waited for (cancelled, timed out, or settled by failover).
    private(set) var lateReplies = 0
    /// Frames from nodes that broke the protocol.
    private(set) var badFrames = 0
    /// Counts the nodes' state changes, when the system records metrics.
    private let nodeStates: NodeStateMetrics?

    /// Whether the reactor waits for the socket's descriptor for ``RemoteService/run()`` now
    /// (see ``socketUsed()``): from a turn that emptied the socket to the next.
    @exclusivity(unchecked) private var receiveLoopWaits = false
    /// Whether ``socketUsed()`` is reading now (what it handles may use the socket again).
    @exclusivity(unchecked) private var readingAfterUse = false
    /// The system's libzmq context, whose I/O thread's waits for a CPU are
    /// not held against the nodes (see ``heartbeatTick()``); nil on a test's
    /// virtual clock.
    private let ioContext: ZeroMQContext?
    /// How long that I/O thread waited for a CPU from one heartbeat tick to the next.
    @exclusivity(unchecked) private var ioThreadWaits = IOThreadWaits()
    /// While that thread waits, the next heartbeat tick comes no sooner than
    /// this: each tick cuts its wait out of the nodes' silence, which moves
    /// their next deadline by as much, and would otherwise bring the next
    /// tick a few milliseconds on (measured: every 4 ms, beside a hog).
    @exclusivity(unchecked) private var heartbeatNoSoonerThan: Duration?

    init(name: String, service: String, system: CortSystem, eventsEndpoint: String) throws {
        self.name = name
        nodeStates = NodeStateMetrics(service: service, factory: system.configuration.metricsFactory)
        reactor = system.reactor
        clock = system.clock
        logger = system.logger
        limits = system.limits
        heartbeat = system.configuration.heartbeat
        // Real waits are not a test clock's time.
        ioContext = system.clock.isContinuous ? system.context : nil
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
        // service's next renewal of the connection (every `liveness` intervals).
        try socket.set(.connectTimeout, heartbeat.interval)
        try socket.set(.reconnectInterval, min(heartbeat.interval / 4, .milliseconds(100)))
        try socket.monitor(eventsEndpoint, events: [.disconnected, .connectRetried, .handshakeSucceeded, .handshakeFailed])
        descriptor = try socket.get(.descriptor)
    }

    /// The calls settled since the last look, to resume after the lock.
    @inline(__always)
    func takeSettled() -> RemoteService.Settled {
        guard settled.first != nil else { return RemoteService.Settled() }
        defer { settled = RemoteService.Settled() }
        return settled
    }

    /// Ends a step: `outcome`, or nil for a call that waited to look again.
    private func settle(_ continuation: Continuation, _ outcome: Result<AttemptResult, RemoteCallError>?,
                        sent: RemoteService.Sent? = nil) {
        let resumption = RemoteService.Resumption(continuation: continuation,
                                                  step: RemoteService.Step(sent: sent, outcome: outcome))
        if !continuation.goesOnOnReactor { settled.someLeaveReactor = true }
        if settled.first == nil {
            settled.first = resumption
        } else {
            settled.more.append(resumption)
        }
    }

    /// Ends a call in flight with `outcome`.
    private func settle(_ call: PendingCall, _ outcome: Result<AttemptResult, RemoteCallError>) {
        settle(call.continuation, outcome, sent: call.sent)
    }

    // MARK: Nodes

    /// Connects to new nodes and lets the ones that left drain.
    func update(nodes instances: [ServiceInstance]) {
        guard !isClosed else { return }
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
        reactor.requestEnded()
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

    /// One step of an attempt: picks a node and sends the request to it
    /// under the step's id, filing its continuation for the answer; or, when
    /// the only reason no node takes it may pass (no node list yet, no node
    /// live yet, every node full when ``CallLimits/whenFull`` says wait, or
    /// every node that takes calls holding its share while others join),
    /// files it as waiting until its deadline, to look again when woken.
    /// Anything else settles the step with the attempt's end.
    ///
    /// `checksCancellation`: it runs on the caller's own task, which may
    /// look at its cancellation here, under the lock (see ``cancel(_:)``).
    func start(_ submission: RemoteService.Submission, checksCancellation: Bool) {
        let (id, deadline, continuation) = (submission.id, submission.deadline, submission.continuation)
        if !submission.acquiring { callsAcquiring += 1 }
        let node: Node
        do throws(RemoteCallError) {
            if isClosed { throw RemoteCallError(.shuttingDown, "the actor system is shut down") }
            if checksCancellation && Task.isCancelled {
                // Checked under the lock, so a cancel either is seen here or
                // finds the call filed below.
                throw submission.acquiring
                    ? RemoteCallError(.cancelled, "a call to \(name) was cancelled while it waited for a node")
                    : RemoteCallError(.cancelled, "\(submission.request.method): the caller was cancelled")
            }
            let pick = pickNode(avoiding: submission.refused, deadline: deadline)
            guard let picked = try usableNode(pick, method: submission.request.method, lastRefusal: submission.lastRefusal) else {
                waiters[id] = Waiter(continuation: continuation, deadline: deadline, method: submission.request.method,
                                     refused: submission.refused, pick: pick)
                waitOrder.append(id)
                schedule(deadline: deadline, id: id, waiter: true)
                return
            }
            node = picked
        } catch {
            callsAcquiring -= 1
            settle(continuation, .failure(error))
            return
        }
        callsAcquiring -= 1
        let now = clock.now
        if now >= deadline {
            settle(continuation, .failure(RemoteCallError(
                .deadlineExceeded, "\(submission.request.method): the deadline passed before the call was sent")))
            return
        }
        buffer.removeAll(keepingCapacity: true)
        WireCodec.encodeRequest(submission.request, id: id, timeout: deadline - now, into: &buffer)
        if buffer.count > limits.maxEnvelopeBytes {
            settle(continuation, .failure(RemoteCallError(
                .messageTooLarge, "\(submission.request.method): the request has \(buffer.count) bytes, over the limit of \(limits.maxEnvelopeBytes)")))
            return
        }
        let sent = RemoteService.Sent(node: node.key, at: now)
        if totalInFlight >= Self.deferredSendsFrom, mayFile() {
            outbox.append(Unsent(id: id, envelope: Array(buffer)))
            filedInOutbox?()
            filePending(id, continuation: continuation, node: node, connection: node.connection,
                        method: submission.request.method, deadline: deadline, sent: sent)
            return
        }
        // What was readable when the socket was used goes after the call is registered.
        defer { socketUsed() }
        let connection: Int
        do throws(RemoteCallError) {
            guard let sentOn = try send(buffer, to: node, method: submission.request.method) else {
                settle(continuation, .success(.notSent), sent: sent)
                return
            }
            connection = sentOn
        } catch {
            settle(continuation, .failure(error), sent: sent)
            return
        }
        filePending(id, continuation: continuation, node: node, connection: connection,
                    method: submission.request.method, deadline: deadline, sent: sent)
    }

    /// Files a call sent (or filed in ``outbox``) on `connection` as in flight until its deadline.
    private func filePending(_ id: UInt64, continuation: Continuation, node: Node, connection: Int,
                             method: String, deadline: Duration, sent: RemoteService.Sent) {
        node.inFlight += 1
        node.health.tookCall()
        totalInFlight += 1
        reactor.requestSent()
        pending[id] = PendingCall(continuation: continuation, node: node, connection: connection,
                                  method: method, deadline: deadline, sent: sent)
        schedule(deadline: deadline, id: id, waiter: false)
    }

    /// Whether a request may wait in ``outbox``: on a machine where the
    /// reactor can run beside the callers (``UsableProcessors``), or in a
    /// test that holds the flushes. Queues a flush unless one is queued.
    ///
    /// On one CPU the thread woken for each flush has to take the CPU from
    /// the callers: with both processes on one CPU and the reactor flushing, the reactors slept and
    /// woke six times as often and 64 calls in flight took 1.6 times as long
    /// (a reactor taking only flushes it found awake took as long as sending
    /// at once, and on two CPUs 10 % longer).
    private func mayFile() -> Bool {
        guard Self.defersSends || flushesHeld else { return false }
        filesOnReactor = reactor.isOnReactorThread
        if !flushQueued {
            flushQueued = true
            queueFlush()
        }
        return true
    }

    /// Queues the flush of the outbox behind the jobs queued where the
    /// request was filed: on the reactor for a caller that runs there, else
    /// on the global pool, at the filing task's priority. (A reader that
    /// resumes many callers queues it behind them: ``reserveFlush(settled:before:)``.)
    ///
    /// On the pool, the flush runs after the callers the reactor resumed
    /// before it was queued (the pool takes its jobs in order), so the
    /// requests those file go with it, and the reactor is not woken for it.
    /// At 256 calls in flight a flush took about 38 requests instead of 13,
    /// the caller made 0.90 system calls a call instead of 1.45 and the node
    /// 0.71 instead of 0.88 (`perf stat`, 200,000 calls), and calls took
    /// 0.875–0.911 times as long (three interleaved runs); at 64 in flight a
    /// flush took about 12 either way and the time did not move (1.004 and
    /// 1.028). A pool full of other work delays the flush as it delays the
    /// callers' own resumption: by the jobs queued before it. And a caller's
    /// requests do not wait for a reactor busy with other work.
    private func queueFlush() {
        if filesOnReactor {
            reactor.execute { [weak owner] in owner?.flushOutbox() }
        } else {
            owner?.flushOnPool(priority: Task.currentPriority)
        }
    }

    /// Whether requests wait for a flush with many calls in flight: where
    /// this process may use two CPUs or more.
    static let defersSends = UsableProcessors.count >= 2

    /// Sends the requests filed in ``outbox``, those for one
    /// node together: in a batch (``WireBatchWriter``), one message for up
    /// to 64 of them. A call that ended meanwhile is not sent; one whose
    /// node's connection changed, or that libzmq does not take, never left:
    /// it ends as not sent, free to go to any node.
    func flushOutbox() {
        flushQueued = false
        guard !outbox.isEmpty, !flushesHeld else { return }
        var sending = outbox
        outbox = spareOutbox
        var batch = WireBatchWriter()
        for first in sending.indices where !sending[first].taken {
            sending[first].taken = true
            guard let call = pending[sending[first].id] else { continue }
            guard !isClosed, call.node.connection == call.connection else {
                endUnsent(sending[first].id, call)
                continue
            }
            // This node's later requests go with it, as many as fit.
            batchIDs.removeAll(keepingCapacity: true)
            batchIDs.append(sending[first].id)
            for later in sending.indices[(first + 1)...] where !sending[later].taken {
                guard let other = pending[sending[later].id], other.node === call.node else { continue }
                guard other.connection == call.connection else {
                    sending[later].taken = true
                    endUnsent(sending[later].id, other)
                    continue
                }
                // The first goes in once a second does (an empty batch takes any envelope).
                if batchIDs.count == 1 { batch.append(sending[first].envelope) }
                guard batch.fits(sending[later].envelope.count) else { break }
                batch.append(sending[later].envelope)
                batchIDs.append(sending[later].id)
                sending[later].taken = true
            }
            var message = ZeroMQMessage(frameCapacity: 2)
            message.append(call.node.routingID)
            if batchIDs.count == 1 {
                // Alone (its batch may have taken it before the next did not fit).
                batch.removeAll()
                message.append(sending[first].envelope)
            } else {
                message.append(batch.finish())
            }
            do {
                if try socket.trySend(&message) { continue }
                // As a direct send that libzmq refuses (see `send`).
                call.node.health.full()
                endUnsent(batchIDs)
            } catch let error as ZeroMQError where error.code == .hostUnreachable {
                // Neither these requests nor the node's others still to go
                // have left; those it sent before may have run.
                endUnsent(batchIDs)
                for later in sending.indices[first...] where !sending[later].taken {
                    guard let waiting = pending[sending[later].id], waiting.node === call.node else { continue }
                    sending[later].taken = true
                    endUnsent(sending[later].id, waiting)
                }
                connectionGone(call.node.key)
            } catch {
                let failure = error as? ZeroMQError ?? ZeroMQError(.other, "\(error)")
                for id in batchIDs {
                    guard let sent = pending.removeValue(forKey: id) else { continue }
                    callEnded(on: sent.node)
                    settle(sent, .failure(RemoteCallError(.transport, "\(sent.method): cannot send to node \(sent.node.key)",
                                                          cause: failure)))
                }
            }
        }
        sending.removeAll(keepingCapacity: true)
        spareOutbox = sending
        socketUsed()
    }

    /// For tests: the nodes the requests in the outbox are filed for.
    var unsentNodeKeys: [String] {
        outbox.compactMap { pending[$0.id]?.node.key }
    }

    /// Ends the calls `ids`, filed in ``outbox``, that were not sent after all.
    private func endUnsent(_ ids: [UInt64]) {
        for id in ids {
            if let call = pending[id] { endUnsent(id, call) }
        }
    }

    /// Ends a call filed in ``outbox`` that will not be sent: it never left.
    private func endUnsent(_ id: UInt64, _ call: PendingCall) {
        pending.removeValue(forKey: id)
        callEnded(on: call.node)
        settle(call, .success(.notSent))
    }

    /// Takes call `id`'s request out of ``outbox``; whether it was there (not sent yet).
    private func withdraw(_ id: UInt64) -> Bool {
        guard !outbox.isEmpty, let index = outbox.firstIndex(where: { $0.id == id }) else { return false }
        outbox.remove(at: index)
        return true
    }

    /// The node `pick` found, nil when the call should wait for one, or the
    /// error that ends the call now.
    private func usableNode(_ pick: Pick, method: String, lastRefusal: CallFailure?) throws(RemoteCallError) -> Node? {
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
            return nil
        }
    }

    /// A node refused a call for want of room: it counts as full until it says otherwise.
    func nodeRefused(_ key: String) {
        nodes[key]?.health.full()
    }

    /// The caller of the attempt `id` was cancelled: its call ends, in
    /// flight (the node is told) or waiting for a node.
    func cancel(_ id: UInt64) {
        if let call = pending.removeValue(forKey: id) {
            // A request still in the outbox never reaches the node.
            if !withdraw(id) { sendCancel(id, to: call.node.key) }
            callEnded(on: call.node)
            settle(call, .failure(RemoteCallError(.cancelled, "\(call.method): the caller was cancelled")))
        } else if let waiter = waiters.removeValue(forKey: id) {
            callsAcquiring -= 1
            settle(waiter.continuation, .failure(RemoteCallError(
                .cancelled, "a call to \(name) was cancelled while it waited for a node")))
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
    private func send(_ envelope: [UInt8], to node: Node, method: String) throws(RemoteCallError) -> Int? {
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
        } catch {
            throw RemoteCallError(.transport, "\(method): cannot send to node \(key)",
                                  cause: error as? ZeroMQError ?? ZeroMQError(.other, "\(error)"))
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

    // MARK: Waiting for a node

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
            settle(waiter.continuation, nil)
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
        var readAt = clock.now
        var envelopes = 0
        for index in 1...100_000 where envelopes < 100_000 {
            guard let message = try? socket.tryReceive() else { break }
            envelopes += handle(message, at: readAt)
            if index % NodeServer.framesPerTurn == 0 { readAt = clock.now }
        }
        socketUsed()
        let now = clock.now
        // Pings go out only from here: whatever kept this from running when
        // it was due (a stopped process, a starved thread pool) kept the
        // nodes from being asked, so it is not their silence.
        let due = heartbeatDue ?? now
        heartbeatDue = nil
        // The I/O thread moves every frame between libzmq and the kernel: the
        // time it waited for a CPU since the last tick, frames from a node
        // may have waited in the kernel and pings to it in libzmq's queue.
        // That is this process's delay, not the nodes' silence (a flooded
        // caller beside CPU hogs: up to 200 ms of any 300 measured).
        var ioWaited = Duration.zero
        if let samples = ioContext?.ioThreadSamples() {
            ioWaited = ioThreadWaits.waited(samples, at: now, minimum: heartbeat.interval / 4)
        }
        heartbeatNoSoonerThan = ioWaited > .zero ? now + heartbeat.interval / 4 : nil
        if now - due >= heartbeat.deadAfter {
            // Worth an operator's look: without the rule above, this pause
            // would have failed its nodes; a caller that stalls this long
            // also delays its callers' answers and finds failed nodes late.
            rateLimited.log(.notice, "caller-paused", "this caller's heartbeats ran late; its nodes are not blamed for the pause",
                            metadata: ["cort.service": "\(name)", "cort.pause": "\(now - due)"], at: now)
        }
        var stoppedJoining = false
        for key in Array(nodes.keys) {
            if ioWaited > .zero, nodes[key]?.health.ioThreadWaited(ioWaited, at: now, configuration: heartbeat) == true {
                // Worth an operator's look: the node would have failed for
                // it, and this caller's own calls wait as long.
                rateLimited.log(.notice, "io-thread-waited",
                                "this caller's I/O thread waited for a CPU; its nodes are not blamed for the wait",
                                metadata: ["cort.service": "\(name)", "cort.node": "\(key)",
                                           "cort.wait": "\(nodes[key]?.health.forgivenForIOThread ?? ioWaited)"], at: now)
            }
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
            let lost = pending.filter { $1.node.key == key }
            // A node that dies and comes back in a loop must not flood the log.
            rateLimited.log(.warning, "node-failed", "node failed", metadata: [
                "cort.service": "\(name)", "cort.node": "\(key)", "cort.reason": "\(reason)",
                "cort.calls_in_flight": "\(lost.count)"], at: clock.now)
            // Requests still in the outbox never left: they may go anywhere.
            let unsent = outbox.isEmpty ? [] : Set(outbox.lazy.filter { lost[$0.id] != nil }.map(\.id))
            for (id, call) in lost {
                pending.removeValue(forKey: id)
                callEnded(on: call.node)
                settle(call, .success(unsent.contains(id) ? .notSent : .nodeFailed(reason)))
            }
        }
    }

    private func noteWakeup(of key: String) {
        guard var wakeup = nodes[key]?.health.nextWakeup(configuration: heartbeat) else { return }
        if let floor = heartbeatNoSoonerThan { wakeup = max(wakeup, floor) }
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
        guard !isClosed else { return }
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
        // the reactor, as the reading of answers does, rather than beside the
        // callers' own tasks on the global pool.
        timer = Task(executorPreference: reactor.taskExecutor) { [weak owner] in
            do {
                try await clock.sleep(until: next)
            } catch {
                return  // re-armed for an earlier time, or closed
            }
            guard !Task.isCancelled else { return }
            owner?.timerFired()
        }
    }

    func timerFired() {
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
                guard let waiter = waiters.removeValue(forKey: first.id) else { continue }
                // Nodes that failed while the call waited are the reason now;
                // otherwise it is what the call waited for.
                let error = switch pickNode(avoiding: waiter.refused, deadline: waiter.deadline) {
                case .node, .full: timeoutWhileWaiting(waiter.pick, method: waiter.method)
                case let now: timeoutWhileWaiting(now, method: waiter.method)
                }
                callsAcquiring -= 1
                settle(waiter.continuation, .failure(error))
            } else if let call = pending.removeValue(forKey: first.id) {
                if !withdraw(first.id) { sendCancel(first.id, to: call.node.key) }
                callEnded(on: call.node)
                settle(call, .failure(RemoteCallError(
                    .deadlineExceeded, "\(call.method): no answer from node \(call.node.key) before the deadline")))
            }
        }
    }

    // MARK: Frames from nodes

    /// One turn of ``RemoteService/run()``: reads up to a turn of frames.
    func readTurn() -> ZeroMQReactor.ReaderTurn {
        guard !isClosed else { return .stop }
        receiveLoopWaits = false
        let wholeTurn: Bool
        do {
            wholeTurn = try readFrames()
        } catch {
            logger.warning("the remote service stopped receiving", metadata: ["cort.service": "\(name)", "cort.error": "\(error)"])
            return .stop
        }
        if wholeTurn { return .more }
        receiveLoopWaits = true
        return .drained
    }

    /// Reads what this service's own use of the socket left unsignalled.
    ///
    /// While ``RemoteService/run()`` waits, the reactor polls the socket's
    /// descriptor, which signals only commands libzmq has not processed yet;
    /// a send, a connect or a receive here processes them, so an answer they
    /// brought is read here, on the thread that used the socket, or it would
    /// wait for the next signal. A receive that finds nothing leaves the
    /// descriptor to signal the next one. At most one turn of frames is read
    /// here; a task on the reactor reads the rest.
    private func socketUsed() {
        guard receiveLoopWaits, !readingAfterUse else { return }
        readingAfterUse = true
        defer { readingAfterUse = false }
        guard (try? readFrames()) == true else { return }
        Task(executorPreference: reactor.taskExecutor) { [weak owner] in owner?.readAfterUse() }
    }

    /// Reads and handles up to a turn of frames (``NodeServer/framesPerTurn``,
    /// or ``NodeServer/envelopesPerTurn`` counting a batch's entries);
    /// whether it read a whole turn. The frames read in one go share one
    /// clock reading.
    private func readFrames() throws -> Bool {
        var (frames, envelopes) = (0, 0)
        var now: Duration?
        let inFlight = totalInFlight
        defer { reserveFlush(settled: inFlight - totalInFlight, before: inFlight) }
        while let message = try socket.tryReceive() {
            let readAt = now ?? clock.now
            now = readAt
            envelopes += handle(message, at: readAt)
            frames += 1
            if frames == NodeServer.framesPerTurn || envelopes >= NodeServer.envelopesPerTurn { return true }
        }
        return false
    }

    /// Reserves the outbox's flush for after the callers that `settled`
    /// answers resume, when they are likely to file their next requests
    /// (`before`, the calls in flight before the answers, at or over
    /// ``deferredSendsFrom``) on the global pool: the flush is then queued
    /// there once they all are (``RemoteService/resume(_:)``), not by the
    /// first of them to file while the others are still being resumed.
    ///
    /// At 64 calls in flight, flushes took about 17 requests instead of 12;
    /// the caller made 1.62–1.74 system calls a call instead of 2.05–2.19
    /// and the node 1.19–1.23 instead of 1.38–1.50 (`perf stat`, 200,000
    /// calls, two runs each), and calls took 0.920 and 0.953 times as long
    /// (10 and 8 interleaved rounds of 200,000).
    private func reserveFlush(settled: Int, before: Int) {
        guard settled >= 2, before >= Self.deferredSendsFrom, Self.defersSends, !flushQueued, !filesOnReactor,
              // Queued only with resumptions (``takeSettled()`` drops an empty set).
              self.settled.first != nil else { return }
        flushQueued = true
        self.settled.flushesAfter = true
    }

    /// The follow-up of a ``socketUsed()`` that read a whole turn.
    func readAfterUse() {
        socketUsed()
    }

    /// Acts on an event of the socket's monitor; true once closed.
    func connectionEvent(_ event: MonitorEvent) -> Bool {
        guard !isClosed else { return true }
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
            break
        }
        return false
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
        let unsent = pending.filter { $1.node.key == key && $1.connection == node.connection }
        for (id, call) in unsent {
            pending.removeValue(forKey: id)
            callEnded(on: call.node)
            settle(call, .success(.notSent))
        }
        // Calls waiting for it go elsewhere, or fail with the reason: all look again.
        wakeWaiters(waiters.count)
    }

    /// Handles one message; how many envelopes it held (a batch's entries, else one).
    ///
    /// `now`: read once for a turn of frames (a clock reading costs about
    /// 180 instructions; a node's health needs no finer time).
    private func handle(_ message: consuming ZeroMQMessage, at now: Duration) -> Int {
        guard message.count == 2 else {
            badFrames += 1
            rateLimited.log(.debug, "frame-count", "dropped a message with \(message.count) frames",
                            metadata: ["cort.service": "\(name)"], at: now)
            return 1
        }
        let connection = message.withFrame(at: 0) { Self.connectionNumber($0) }
        // The node itself, not its key: one hash of an Int a frame, none of a String.
        guard let node = nodeByConnection[connection] else {
            // A connection renewed since: what it still delivers is stale.
            lateReplies += 1
            return 1
        }
        let key = node.key
        if !node.handshaken { handshakeSucceeded(key) }
        apply(node.health.heard(at: now, configuration: heartbeat), to: key)
        guard message.withFrame(at: 1, { WireBatch.isBatch($0) }) else {
            handleEnvelope(in: message, at: nil, from: key, on: connection, at: now)
            return 1
        }
        let batch = message.withFrame(at: 1) { WireBatch.read($0, limits: limits) }
        guard let fault = batch.error else {
            for entry in batch.entries {
                handleEnvelope(in: message, at: entry, from: key, on: connection, at: now)
            }
            return batch.entries.count
        }
        badFrames += 1
        rateLimited.log(.debug, "malformed-batch", "dropped a malformed batch of answers", metadata: [
            "cort.service": "\(name)", "cort.node": "\(key)", "cort.error": "\(fault.message)"], at: now)
        // Its answers to calls in flight on this connection fail those calls now.
        for header in message.withFrame(at: 1, { batch.headers(in: $0) }) where header.kind == .reply || header.kind == .error {
            settle(header.id, with: .failure(CallFailure(
                code: .protocolError, message: "the batch of answers of node \(key) is malformed: \(fault.message)")),
                   from: connection)
        }
        return max(batch.entries.count, 1)
    }

    /// Handles the envelope in frame 1 of `message`, or in its bytes `entry`
    /// (one entry of a batch, where only replies and errors belong).
    private func handleEnvelope(in message: borrowing ZeroMQMessage, at entry: Range<Int>?, from key: String,
                                on connection: Int, at now: Duration) {
        let decoded: Envelope
        do {
            decoded = try message.withFrame(at: 1) { (bytes) throws(WireError) in
                try WireCodec.decode(WireBatch.bytes(of: entry, in: bytes), limits: limits)
            }
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
        case _ where entry != nil:
            // A batch of answers carries replies and errors only.
            badFrames += 1
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
        // One lookup: taken out, and put back in the rare case of an answer
        // from another connection than the call's.
        guard let call = pending.removeValue(forKey: id) else {
            lateReplies += 1
            return
        }
        guard call.connection == connection else {
            pending[id] = call
            lateReplies += 1
            return
        }
        callEnded(on: call.node)
        settle(call, .success(.answered(answer)))
    }

    /// Fails every waiting call and stops receiving.
    func close() {
        isClosed = true
        timer?.cancel()
        try? socket.stopMonitoring()
        for call in pending.allValues {
            reactor.requestEnded()
            settle(call, .failure(RemoteCallError(.shuttingDown, "\(call.method): the actor system shut down")))
        }
        pending.removeAll()
        outbox.removeAll()
        for waiter in waiters.values {
            settle(waiter.continuation, .failure(RemoteCallError(.shuttingDown, "the actor system shut down")))
        }
        callsAcquiring -= waiters.count
        waiters.removeAll()
        waitOrder.removeAll()
    }
}
