internal import CZeroMQ
internal import CCortRuntime
import DequeModule
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A dedicated thread that polls ZeroMQ sockets and runs Swift jobs: the bridge
/// between libzmq and Swift concurrency.
///
/// The reactor is a `SerialExecutor`. An actor that owns sockets runs on it,
/// so its socket calls happen on the reactor thread with no thread hop, and a
/// message received by a wake-up is handled in the same loop iteration:
///
/// ```swift
/// actor Echo {
///     let reactor: ZeroMQReactor
///     let router: ZeroMQSocket
///     nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }
///
///     init(context: ZeroMQContext, reactor: ZeroMQReactor) throws {
///         self.reactor = reactor
///         router = try ZeroMQSocket(.router, context: context, reactor: reactor)
///         try router.set(.routerMandatory, true)
///         try router.bind("tcp://127.0.0.1:5555")
///     }
///
///     func run() async throws {
///         while true {
///             let message = try await router.receive()   // drains, then sleeps in poll(2)
///             try await router.send(message)             // backpressure, never a drop
///         }
///     }
/// }
///
/// let reactor = try ZeroMQReactor.start()
/// defer { reactor.shutdown() }
/// ```
///
/// Each loop iteration runs every queued job, then sleeps in `poll(2)` on the
/// descriptors (`ZMQ_FD`) of the sockets that have waiters and on a wake-up
/// descriptor (an eventfd on Linux, a pipe elsewhere). Other threads write
/// the wake-up descriptor only when the reactor is asleep (or about to be)
/// and no wake is pending, so wakes are neither lost nor redundant; the
/// reactor thread itself never writes it. Nothing queued and nothing due
/// means a poll without a timeout: an idle reactor uses no CPU.
///
/// libzmq's `ZMQ_FD` is edge-triggered: it says a socket's state may have
/// changed, not that it is ready. So before sleeping the loop asks every
/// socket with waiters for its `ZMQ_EVENTS` (a socket made readable by a send
/// or receive of a job on this thread is seen, and the loop does not sleep
/// on it), and after waking it asks those whose descriptor signalled. That
/// is one check per socket and one poll per sleep, where `zmq_poll` makes two
/// of each (each check is a system call). Do not drop the check before sleeping.
///
/// A job of a task that prefers the reactor (``taskExecutor``: a hosted
/// service's replicas by default), or of a task resumed here that would
/// have gone to Swift's global executor (``keepingGlobalJobs(_:)``: a
/// caller given its answer), may compute for long. The loop is not left
/// waiting for it: a watchdog thread checks every
/// ``handOffAfter``, and once the same such job has run that long, it takes
/// the loop over (sockets, queue and timers) and a new watchdog starts, while
/// the old thread finishes the job and ends. So short jobs cost no thread
/// switch, and a long one delays the rest by at most about twice
/// ``handOffAfter``. At most ``maxHandedOffThreads`` threads finish jobs
/// this way at once; past that the loop waits for them. The watchdog sleeps
/// after 100 ms without such jobs, so an idle reactor stays idle.
///
/// Lifecycle: ``start(name:)`` creates the thread; ``shutdown()`` fails every
/// pending wait with ``ZeroMQError/Code/reactorShutDown``, runs the jobs that
/// follow from that, stops the loop and waits for it to end. Jobs enqueued
/// after that run on the enqueuing thread, one at a time, so no task is stranded.
///
/// Sendable: see the comment on the conformance.
public final class ZeroMQReactor: SerialExecutor, @unchecked Sendable {
    // @unchecked Sendable, proven so: `shared` is behind a Mutex, `owner` and the
    // counters are atomics, the descriptors are immutable, and every other stored
    // property (`waiters`, `polledSockets`, ...) is touched only by the thread that
    // currently runs this executor's jobs (the reactor thread, or after shutdown
    // the single thread draining the late queue), which the code checks.

    private enum Work {
        /// A job for an actor on this executor.
        case job(UnownedJob)
        /// A job of a task that prefers `waitExecutor` (a resumed socket wait).
        case taskJob(UnownedJob)
        /// A job of a task that prefers ``taskExecutor`` (any task a user placed here).
        case preferringJob(UnownedJob)
        /// A job the Swift runtime was given for its global executor inside
        /// ``keepingGlobalJobs(_:)`` on this thread (a caller resumed with its
        /// answer), kept to run here.
        case globalJob(UnownedJob)
        case closure(@Sendable () -> Void)
        /// A waiter of ``waitUntilReadable(_:isolation:)`` to register (no
        /// closure, so no allocation).
        case registerWaiter(UInt64, Int32, UnsafeContinuation<Void, any Error>)
        /// A reader of ``read(_:isolation:turn:)`` or ``read(descriptor:isolation:turn:)``
        /// to register, with the wait its `read` is in (one reference: every
        /// case's payload is copied with each piece of work the loop runs).
        case registerReader(ReaderRegistration)
    }

    private enum State { case running, stopping, stopped }

    private struct Shared {
        var queue = Deque<Work>()
        var state = State.running
        /// The loop is in (or about to enter) a blocking poll.
        var sleeping = false
        /// The wake-up descriptor was written and not drained yet.
        var wakePending = false
        /// A thread is draining the queue after the reactor thread ended.
        var lateDraining = false
        /// A thread started the loop; someone will signal `doneFD` when it ends.
        var started = false
        /// A `shutdown()` waits for the loop to end (later calls do not).
        var shutdownWaited = false
        /// The loop has ended.
        var loopEnded = false
        /// Tasks in `stop()` waiting for the loop to end.
        var stopWaiters: [UnsafeContinuation<Void, Never>] = []
    }

    /// A socket with waiters, as one loop iteration polls it.
    private struct PolledSocket {
        let socket: UnsafeMutableRawPointer
        let activity: SocketActivity
        /// What its waiters wait for (`ZMQ_POLLIN`, `ZMQ_POLLOUT`).
        var events: Int16
        /// Which of those it is ready for.
        var ready: Int16 = 0
    }

    private struct Waiter {
        /// Nil for a waiter on a plain descriptor (``waitUntilReadable(_:isolation:)``).
        let socket: UnsafeMutableRawPointer?
        /// The socket's use, to skip asking it what it is ready for when nothing changed it.
        let activity: SocketActivity?
        let events: Int16
        /// The descriptor a waiter of ``waitUntilReadable(_:isolation:)`` waits for; -1 otherwise.
        var descriptor: Int32 = -1
        /// When the wait ends, as an offset from the reactor's ``epoch``: a
        /// `Duration` keeps this struct's layout fixed (`ContinuousClock.Instant`
        /// is resilient, so every copy of a waiter went through value
        /// witnesses: callgrind, one call in flight, 4,300 instructions a
        /// call on a caller and 3,600 on a node).
        let deadline: Duration?
        let continuation: UnsafeContinuation<Void, any Error>
    }

    /// A socket the loop reads itself (``read(_:isolation:turn:)``).
    private struct Reader {
        // @unchecked: the socket's handle is a raw pointer, touched only by
        // the loop's thread once the reader is registered.
        enum Source: @unchecked Sendable {
            /// A socket of an owner on this reactor: the loop asks it what it is ready for.
            case socket(UnsafeMutableRawPointer, SocketActivity)
            /// The descriptor (`ZMQ_FD`) of a socket owned off the reactor, which the loop never touches.
            case descriptor(Int32)

            var isDescriptor: Bool {
                if case .descriptor = self { true } else { false }
            }
        }

        let id: UInt64
        let source: Source
        let turn: @Sendable () -> ReaderTurn
        /// Its last turn stopped at its bound: it is called again next
        /// iteration, readable or not (a descriptor that signalled once
        /// does not signal again for what is left).
        var pending = false
    }

    /// A reader and the continuation of its `read`, on their way to the loop.
    private final class ReaderRegistration: Sendable {
        let reader: Reader
        let continuation: UnsafeContinuation<Void, any Error>

        init(_ reader: Reader, _ continuation: UnsafeContinuation<Void, any Error>) {
            self.reader = reader
            self.continuation = continuation
        }
    }

    /// The instant waiters' deadlines are measured from.
    private let epoch = ContinuousClock.now

    private let shared = Mutex(Shared())
    /// The task executor preferred while a socket waits (see `wait`); set once in `init`.
    @exclusivity(unchecked) private var waitExecutor: ReactorTaskExecutor!
    /// The task executor for tasks that should run on this thread; set once in `init`.
    @exclusivity(unchecked) private var generalExecutor: ReactorTaskExecutor!
    /// The thread running this executor's jobs now (0 = none).
    private let owner = Atomic<UInt>(0)
    private let wakeReadFD: Int32
    private let wakeWriteFD: Int32
    /// Signalled once, when the loop has ended.
    private let doneFDs: [Int32]
    /// Wakes the watchdog (a job started while it slept, or the loop ended).
    private let watchdogFDs: [Int32]
    /// The threads' name, set once in `start`.
    private var threadName = "cort-reactor"
    /// Whether the loop keeps the global jobs it resumes (see
    /// ``keepingGlobalJobs(_:)``); set once in `start`.
    private var resumesGlobalJobs = false
    /// Whether cort's hook on the global executor's enqueue is the one in
    /// place (set by the first reactor started with `resumesGlobalJobs`;
    /// a library that sets its own later, without passing jobs on to it,
    /// turns the keeping off: resumed tasks then go to the pool as before).
    package static var globalJobsHookInstalled: Bool { cort_global_jobs_installed() }
    /// The most global jobs one capture keeps; the rest go to the global executor.
    static let globalJobCapacity = 1024
    /// The thread running the loop now, while it runs (0 otherwise): the
    /// one thread whose global jobs ``keepingGlobalJobs(_:)`` keeps. A thread
    /// id, as `feeder` is: a thread relieved of the loop in a long job, or
    /// one draining the queue after the loop ended, never finds its own.
    private let loopThread = Atomic<UInt>(0)
    /// When the loop last found nothing to do and went to poll
    /// (`CLOCK_MONOTONIC`, nanoseconds). Written by the loop's thread, read
    /// also by a thread running a job the loop may be taken from.
    private let busySince = Atomic<Int64>(0)
    /// How long the loop may have been busy, since it last found nothing to
    /// do, and still keep the global jobs it resumes: past that (callers
    /// whose steps take long, a flood of answers), they go to the global
    /// executor, and its threads share the work until the loop idles again.
    public static let keepsGlobalJobsWhileBusyFor = Duration.milliseconds(1)
    private static let keepsGlobalJobsWhileBusyNanoseconds =
        keepsGlobalJobsWhileBusyFor.components.seconds * 1_000_000_000
            + keepsGlobalJobsWhileBusyFor.components.attoseconds / 1_000_000_000

    /// The job of a task preferring this reactor that runs now, as the
    /// watchdog sees it: `epoch << 2`, plus 1 while such a job runs, plus 2
    /// once the watchdog took the loop over from the thread running it.
    private let foreignJob = Atomic<UInt64>(0)
    /// The watchdog sleeps without a timeout (no such job for 100 ms).
    private let watchdogParked = Atomic<Bool>(false)
    /// Threads finishing a job after the loop was taken from them.
    private let handedOffThreads = Atomic<Int>(0)

    // Reactor-thread-only state. Its accesses are not checked for exclusivity
    // at run time (`@exclusivity(unchecked)`, as the standard library is
    // built): the loop touches these several times per message, and each
    // check cost about 150 instructions, some 40 a call in a node's loop
    // (callgrind). The runtime's check sees only overlaps on one thread;
    // these belong to the loop's thread alone.
    @exclusivity(unchecked) private var waiters: [UInt64: Waiter] = [:] {
        didSet { pollSetChanged = true }
    }
    @exclusivity(unchecked) private var nextWaiterID: UInt64 = 0
    /// The sockets the loop reads itself, in the order they were added.
    @exclusivity(unchecked) private var readers: [Reader] = [] {
        didSet { pollSetChanged = true }
    }
    /// The waiters or readers changed since `polledSockets`,
    /// `waitedDescriptors` and `pollSetHasDeadline` were collected: at a
    /// steady state (a node's reader and its monitor, a caller's reader)
    /// they are kept from one iteration to the next, with each socket's
    /// descriptor, instead of collected anew (hashing every socket) and
    /// asked for again (a call into libzmq each).
    @exclusivity(unchecked) private var pollSetChanged = true
    /// Whether a waiter had a deadline when the poll set was last collected.
    @exclusivity(unchecked) private var pollSetHasDeadline = false
    /// The sockets that have waiters, for one loop iteration.
    @exclusivity(unchecked) private var polledSockets: [PolledSocket] = []
    @exclusivity(unchecked) private var socketIndex: [UnsafeMutableRawPointer: Int] = [:]
    /// The wake-up descriptor, then each polled socket's `ZMQ_FD`, in
    /// `polledSockets`' order, then `waitedDescriptors`.
    @exclusivity(unchecked) private var pollDescriptors: [pollfd] = []
    /// The descriptors that waiters of ``waitUntilReadable(_:isolation:)``
    /// wait for, for one loop iteration, and which of them were readable.
    @exclusivity(unchecked) private var waitedDescriptors: [Int32] = []
    @exclusivity(unchecked) private var readableDescriptors: Set<Int32> = []
    @exclusivity(unchecked) private var isStopping = false
    /// Work taken from the queue and not run yet; a thread that takes the loop over runs the rest.
    @exclusivity(unchecked) private var batch = Deque<Work>()
    /// Counts the jobs of tasks preferring this reactor.
    @exclusivity(unchecked) private var foreignEpoch: UInt64 = 0
    /// Whether a watchdog was started (or could not be).
    @exclusivity(unchecked) private var watchdogStarted = false
    /// The waiters `resumeWaiters` found ready, kept to reuse its storage.
    @exclusivity(unchecked) private var readyIDs: [UInt64] = []
    /// The loop's thread while `resumeWaiters` resumes tasks whose sockets
    /// are ready, or a job from `resumed` runs that the watchdog cannot
    /// take the loop from; 0 otherwise. What that thread enqueues meanwhile
    /// goes to `resumed`. A thread id and not a flag: a thread that lost
    /// the loop in the middle of a long job (see ``handOffAfter``) and
    /// enqueues from it never finds its own id here, so it never touches
    /// `resumed`, which belongs to the loop's new thread.
    private let feeder = Atomic<UInt>(0)
    /// Ids of waiters registered from other threads (above `nextWaiterID`'s range).
    private let foreignWaiterIDs = Atomic<UInt64>(1 << 63)
    /// Tasks resumed because their socket is ready (or their wait timed
    /// out), and what they enqueue in turn (their hop back into an actor):
    /// run before the rest of the queue, up to `jobsPerIteration` a turn, so
    /// reading and sending go on while a flood of other jobs waits.
    @exclusivity(unchecked) private var resumed = Deque<Work>()

    /// The requests sent through this reactor's sockets whose answers are
    /// awaited (the low 32 bits), and those that ended so far (the rest,
    /// wrapping): one atomic, so that a call's end is one operation. Kept by
    /// the callers with ``requestSent()`` and ``requestEnded()``; the loop
    /// reads it before it sleeps (see ``IdleSpin``).
    private let requests = Atomic<UInt64>(0)
    /// The count of ended requests `requests` had when the loop last went idle.
    @exclusivity(unchecked) private var endedAtLastIdle: UInt64 = 0
    /// How long the loop polls before it sleeps, while answers are awaited.
    @exclusivity(unchecked) private var idleSpin = IdleSpin(maximum: .zero)
    /// Above this many answers awaited the loop does not poll before
    /// sleeping: answers then come in batches, each wake-up is shared by
    /// many calls (fewer than 0.3 context switches a call at 64 in flight),
    /// and polling would only take the CPU from the threads doing the work
    /// (measured without this bound: 7 % fewer calls a second at 64 in flight
    /// on 2 cores).
    static let pollingInFlightLimit: UInt64 = 4

    /// Times the loop polled before sleeping because answers were awaited (see ``IdleSpin``).
    package let idlePolls = Atomic<Int>(0)
    /// Times something came while the loop polled before sleeping.
    package let idlePollsAnswered = Atomic<Int>(0)
    /// Loop iterations so far (each runs the queue and polls once).
    package let loopIterations = Atomic<Int>(0)
    /// Writes to the wake-up descriptor so far.
    package let wakeups = Atomic<Int>(0)
    /// Jobs and closures enqueued from other threads so far (each is a thread hop).
    package let foreignEnqueues = Atomic<Int>(0)
    /// Jobs and closures run so far.
    package let jobsRun = Atomic<Int>(0)
    /// Times the watchdog took the loop over from a thread busy with a long job.
    package let handOffs = Atomic<Int>(0)
    /// Times the loop asked a socket for its `ZMQ_EVENTS` (a system call each).
    package let readinessChecks = Atomic<Int>(0)

    /// How long a job of a task preferring this reactor may run before the
    /// loop moves to another thread (the watchdog's period; it hands off
    /// after one to two periods).
    public static let handOffAfter = Duration.milliseconds(10)
    /// How many threads may be finishing long jobs at once after a hand-off.
    public static let maxHandedOffThreads = 64

    private init() throws {
        var opened: [[Int32]] = []
        do {
            for _ in 0..<3 { opened.append(try Self.openWakeChannel()) }
        } catch {
            for var fds in opened { cort_wakefd_close(&fds) }
            throw error
        }
        wakeReadFD = opened[0][0]
        wakeWriteFD = opened[0][1]
        doneFDs = opened[1]
        watchdogFDs = opened[2]
        waitExecutor = ReactorTaskExecutor(reactor: self, kind: .wait)
        generalExecutor = ReactorTaskExecutor(reactor: self, kind: .general)
    }

    deinit {
        for var fds in [[wakeReadFD, wakeWriteFD], doneFDs, watchdogFDs] { cort_wakefd_close(&fds) }
    }

    /// A wake-up channel: its read and write descriptors (the same one, an eventfd, on Linux).
    private static func openWakeChannel() throws -> [Int32] {
        var fds: [Int32] = [-1, -1]
        guard cort_wakefd_open(&fds) == 0 else {
            throw ZeroMQError(.other, "cannot create the reactor's wake-up descriptor (errno \(errno))")
        }
        return fds
    }

    /// Creates a reactor and starts its thread.
    ///
    /// - Parameters:
    ///   - name: the thread's name (Linux keeps the first 15 bytes).
    ///   - answerPolling: the longest the loop polls, instead of sleeping,
    ///     while a few answers to requests sent through its sockets are
    ///     awaited (counted with ``requestSent()`` and ``requestEnded()``);
    ///     the window adapts to how soon they come (see ``IdleSpin``).
    ///     Zero (the default) never polls.
    ///   - resumesGlobalJobs: whether a task resumed on the loop's thread
    ///     inside ``keepingGlobalJobs(_:)`` (a caller given the answer the
    ///     loop read), that would go to Swift's global executor, goes on on
    ///     this thread instead, up to its next suspension, where the
    ///     watchdog sees it as it sees a job of a task preferring the
    ///     reactor (see ``handOffAfter``): no pool thread is woken for it,
    ///     and what it sends next leaves from here. False (the default):
    ///     such tasks go to the global executor.
    /// - Throws: ``ZeroMQError`` if the wake-up descriptor or the thread cannot be created.
    public static func start(name: String = "cort-reactor", answerPolling: Duration = .zero,
                             resumesGlobalJobs: Bool = false) throws -> ZeroMQReactor {
        let reactor = try ZeroMQReactor()
        reactor.threadName = name
        reactor.idleSpin = IdleSpin(maximum: answerPolling)
        if resumesGlobalJobs {
            cort_global_jobs_install()
            reactor.resumesGlobalJobs = true
        }
        try reactor.spawnThread(.loop)
        return reactor
    }

    /// A request was sent through one of this reactor's sockets and its
    /// answer is awaited (see `answerPolling` in ``start(name:answerPolling:)``).
    /// Balance each with one ``requestEnded()``.
    public func requestSent() {
        requests.wrappingAdd(1, ordering: .relaxed)
    }

    /// A request counted by ``requestSent()`` ended: answered, failed, timed out or abandoned.
    public func requestEnded() {
        // One more ended (the high bits), one fewer awaited (the low ones).
        requests.wrappingAdd((1 << 32) - 1, ordering: .relaxed)
    }

    /// Answers awaited now: requests sent less those that ended.
    package var requestsAwaited: Int {
        Int(requests.load(ordering: .relaxed) & 0xFFFF_FFFF)
    }

    /// Fails every pending socket wait with ``ZeroMQError/Code/reactorShutDown``, runs the
    /// jobs that follow, then stops the loop. Later async socket operations on this
    /// reactor throw ``ZeroMQError/Code/reactorShutDown``.
    ///
    /// Blocks the caller until the loop has finished its current jobs (called on the
    /// reactor thread itself, it returns at once and the loop ends after the current job).
    /// A thread still finishing a long job it was relieved of (see ``handOffAfter``)
    /// is not waited for. Idempotent; a concurrent second call returns without waiting.
    public func shutdown() {
        let (wait, wake): (Bool, Bool) = shared.withLock { shared in
            let wake = requestStop(&shared)
            guard shared.started, !shared.shutdownWaited else { return (false, wake) }
            shared.shutdownWaited = true
            return (true, wake)
        }
        if wake { signal() }
        guard wait, !isOnReactorThread else { return }
        _ = cort_wakefd_wait(doneFDs[0], -1)
    }

    /// ``shutdown()`` for async code: the same stop, awaited without holding
    /// a thread of the cooperative pool while the loop finishes its jobs.
    ///
    /// A test process or a server with many systems stops them from tasks;
    /// each blocking `shutdown()` would hold one of the pool's few threads
    /// for as long as its loop takes to end. Called from a job on this
    /// reactor, it returns at once, like ``shutdown()``.
    public func stop() async {
        if isOnReactorThread {
            shutdown()
            return
        }
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            let (ended, wake): (Bool, Bool) = shared.withLock { shared in
                let wake = requestStop(&shared)
                guard shared.started, !shared.loopEnded else { return (true, wake) }
                shared.stopWaiters.append(continuation)
                return (false, wake)
            }
            if wake { signal() }
            if ended { continuation.resume() }
        }
    }

    /// Asks a running loop to stop (under the lock); true when the caller
    /// must then wake it (``signal()``).
    private func requestStop(_ shared: inout Shared) -> Bool {
        guard shared.state == .running else { return false }
        shared.state = .stopping
        return needsSignal(&shared)
    }

    // MARK: SerialExecutor

    /// Queues `job` to run on the reactor thread. From another thread this wakes the
    /// reactor if it sleeps; from the reactor thread it never writes the wake-up descriptor.
    public func enqueue(_ job: consuming ExecutorJob) {
        submit(.job(UnownedJob(job)))
    }

    /// This reactor as an executor, for an actor's `unownedExecutor`.
    public func asUnownedSerialExecutor() -> UnownedSerialExecutor {
        UnownedSerialExecutor(ordinary: self)
    }

    /// Traps unless called on the reactor thread (Swift calls this for `assumeIsolated`
    /// and isolation checks).
    public func checkIsolated() {
        if !isOnReactorThread {
            fatalError("ZeroMQReactor: code isolated to this reactor ran on another thread")
        }
    }

    /// Whether the current thread runs this executor's jobs.
    public func isIsolatingCurrentContext() -> Bool? {
        isOnReactorThread
    }

    /// Runs `body` on the reactor thread, after the jobs queued before it.
    public func execute(_ body: @escaping @Sendable () -> Void) {
        submit(.closure(body))
    }

    /// This reactor as a `TaskExecutor`: a task that prefers it (`Task(executorPreference:)`,
    /// `withTaskExecutorPreference`) runs its nonisolated code and its default
    /// actors' code on the reactor thread, so it talks to actors on the reactor
    /// without a thread hop or a wake-up.
    ///
    /// The price: while such code runs, the reactor polls no socket and runs no
    /// other job. Only code that suspends rather than blocks or computes for
    /// long belongs here.
    ///
    /// ```swift
    /// let task = Task(executorPreference: reactor.taskExecutor) {
    ///     await replica.handle(request)   // a default actor: runs on the reactor thread
    /// }
    /// ```
    public var taskExecutor: any TaskExecutor { generalExecutor }

    /// Whether the calling thread is the one running this reactor's jobs.
    public var isOnReactorThread: Bool {
        let current = Self.currentThreadID()
        return owner.load(ordering: .relaxed) == current
    }

    // MARK: Waiting for sockets (reactor thread only)

    /// Suspends until `socket` is ready for `events`, or until `deadline` when `events`
    /// is empty. Must run on the reactor thread (the socket checks).
    func wait(for socket: ZeroMQSocket, events: Int16, deadline: ContinuousClock.Instant?,
              isolation: isolated (any Actor)?) async throws {
        // The raw handle: going through `handle` would count as a use of the socket.
        let (handle, activity) = (socket.rawHandle, socket.activity)
        if isStopping {
            throw ZeroMQError(.reactorShutDown, "the reactor is shut down")
        }
        nextWaiterID &+= 1
        let id = nextWaiterID
        // A resumed continuation goes to the task's executor preference, else to
        // the global pool (and from there hops back to the actor: two thread
        // switches and a wake-up). Preferring this reactor's task executor makes
        // the resumed task a job in this loop's own queue. The preference is set
        // only around the wait: a job that runs with a task executor would make
        // the actor's next call into `receive`/`send` switch executors.
        try await withTaskExecutorPreference(waitExecutor, isolation: isolation) {
            try await withTaskCancellationHandler {
                try await withUnsafeThrowingContinuation(isolation: isolation) { (continuation: UnsafeContinuation<Void, any Error>) in
                    // Registered before checking the flag: a cancel that lands after the
                    // check enqueues its removal behind this job, so it finds the waiter.
                    if Task.isCancelled {
                        continuation.resume(throwing: CancellationError())
                    } else {
                        waiters[id] = Waiter(socket: handle, activity: activity, events: events,
                                             deadline: deadline.map { epoch.duration(to: $0) },
                                             continuation: continuation)
                    }
                }
            } onCancel: {
                // Runs on the cancelling thread: hop to the reactor to touch `waiters`.
                self.execute { self.cancelWaiter(id) }
            }
        }
    }

    /// Suspends until `descriptor` is readable, from any thread: for a
    /// socket whose owner does not run on this reactor (an actor on the
    /// global pool), whose descriptor (`ZMQ_FD`) this loop polls without
    /// touching the socket itself.
    ///
    /// The resumed task goes back to where it waited (its actor); an owner
    /// whose task prefers this reactor (``taskExecutor``) then runs here.
    ///
    /// - Throws: ``ZeroMQError/Code/reactorShutDown`` when the reactor shuts
    ///   down, `CancellationError` when the task is cancelled while waiting.
    package func waitUntilReadable(_ descriptor: Int32, isolation: isolated (any Actor)?) async throws {
        try await waitRegisteredThroughQueue(isolation: isolation) { .registerWaiter($0, descriptor, $1) }
    }

    /// Suspends in a wait that `registration` registers through the loop's
    /// queue under a new id, from any thread; a cancel removes it again.
    ///
    /// Always through the queue, even from the loop's thread: the task
    /// waiting here may run in a job of a task preferring the reactor, which
    /// the watchdog can take the loop from at any moment (see
    /// ``handOffAfter``); this thread would then touch `waiters` beside the
    /// loop's new one. The loop runs the registration before it polls again,
    /// so nothing is missed.
    private func waitRegisteredThroughQueue(
        isolation: isolated (any Actor)?,
        _ registration: (UInt64, UnsafeContinuation<Void, any Error>) -> Work
    ) async throws {
        let id = foreignWaiterIDs.add(1, ordering: .relaxed).newValue
        try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation(isolation: isolation) { (continuation: UnsafeContinuation<Void, any Error>) in
                submit(registration(id, continuation))
                // Checked after registering: a cancel before the check
                // may have come before the registration, so this removes
                // it again; a cancel after the check lands behind it.
                if Task.isCancelled { execute { self.cancelWaiter(id) } }
            }
        } onCancel: {
            self.execute { self.cancelWaiter(id) }
        }
    }

    /// Registers, on the loop's thread, a waiter of
    /// ``waitUntilReadable(_:isolation:)`` (a `descriptor`), or the wait of a
    /// reader's `read` (a `reader`, whose wait only a cancel, the shutdown or
    /// a turn that stops ends).
    private func register(_ id: UInt64, descriptor: Int32 = -1, reader: Reader? = nil,
                          _ continuation: UnsafeContinuation<Void, any Error>) {
        if isStopping {
            continuation.resume(throwing: ZeroMQError(.reactorShutDown, "the reactor is shut down"))
            return
        }
        if let reader { readers.append(reader) }
        waiters[id] = Waiter(socket: nil, activity: nil, events: 0, descriptor: descriptor,
                             deadline: nil, continuation: continuation)
    }

    /// What a reader's turn (``read(_:isolation:turn:)``) left behind.
    package enum ReaderTurn: Sendable {
        /// It read until the socket had nothing more (its last receive found nothing).
        case drained
        /// It stopped at its bound with messages maybe left: call it again
        /// after the jobs that are queued.
        case more
        /// It is done (the socket failed): do not call it again.
        case stop
    }

    /// Reads `socket` on the loop's own thread, without a task per wake-up,
    /// until the calling task is cancelled or the reactor shuts down.
    ///
    /// Whenever the socket is readable, the loop calls `turn` between two
    /// jobs, on its thread, where code isolated to this executor may run
    /// (`assumeIsolated`): no task is resumed, no job is queued, and nothing
    /// is registered or removed per wake-up. A `turn` reads a bounded number
    /// of messages and says what it left (``ReaderTurn``); one that stopped
    /// at its bound is called again after the jobs queued meanwhile, so a
    /// flood on one socket does not starve the rest of the loop. The call
    /// returns once the reader is removed; `turn` is not called after that.
    ///
    /// Call it from an actor whose executor is this reactor.
    ///
    /// - Throws: ``ZeroMQError/Code/wrongThread`` off the reactor thread,
    ///   ``ZeroMQError/Code/reactorShutDown`` when the reactor is shut down.
    package func read(_ socket: ZeroMQSocket, isolation: isolated (any Actor)?,
                      turn: @escaping @Sendable () -> ReaderTurn) async throws {
        guard isOnReactorThread else {
            throw ZeroMQError(.wrongThread, "a reader is added on the reactor's thread")
        }
        try await read(.socket(socket.rawHandle, socket.activity), isolation: isolation, turn: turn)
    }

    /// ``read(_:isolation:turn:)`` for a socket whose owner does not run on
    /// this reactor (an object on the global pool that guards its socket
    /// with a lock): the loop polls only its `descriptor` (`ZMQ_FD`) and
    /// calls `turn` when it signals, or again after a turn that stopped at
    /// its bound; `turn` does the receiving, under its owner's lock. The
    /// owner's concern, as for ``waitUntilReadable(_:isolation:)``: its own
    /// uses of the socket may process the commands that announced a message,
    /// so after each it reads what became readable itself.
    ///
    /// Callable from any thread: the reader is registered through the loop's
    /// queue (a job of a task preferring the reactor may lose the loop to
    /// another thread at any moment, see ``handOffAfter``).
    ///
    /// - Throws: ``ZeroMQError/Code/reactorShutDown`` when the reactor shuts down.
    package func read(descriptor: Int32, isolation: isolated (any Actor)?,
                      turn: @escaping @Sendable () -> ReaderTurn) async throws {
        try await read(.descriptor(descriptor), isolation: isolation, turn: turn)
    }

    /// Adds a reader of `source` through the loop's queue and waits, under
    /// the reader's id, until a cancel (the call returns), the shutdown (it
    /// throws) or a turn that stops (it returns) removes it. A descriptor's
    /// reader has its first turn at once: what arrived before it was
    /// registered has signalled already, or was left to the reader by the
    /// socket's owner. A socket's is called once the loop finds the socket
    /// readable, as it asks every polled socket before it sleeps.
    private func read(_ source: Reader.Source, isolation: isolated (any Actor)?,
                      turn: @escaping @Sendable () -> ReaderTurn) async throws {
        do {
            try await waitRegisteredThroughQueue(isolation: isolation) { id, continuation in
                .registerReader(ReaderRegistration(Reader(id: id, source: source, turn: turn, pending: source.isDescriptor),
                                                   continuation))
            }
        } catch is CancellationError {
            return
        }
    }

    /// Forgets reader `id` (on the loop's thread; after it ended, on the one draining the queue).
    private func removeReader(_ id: UInt64) {
        readers.removeAll { $0.id == id }
    }

    /// Runs `body`; on the loop's thread, with the reactor started to run
    /// them (`resumesGlobalJobs`), the jobs it hands Swift's global
    /// executor (the callers it resumes, with no executor of their own) are
    /// kept and run on this thread, first thing next turn, as jobs the
    /// watchdog sees. Elsewhere, or nested, or once the loop has been busy
    /// for ``keepsGlobalJobsWhileBusyFor`` without a pause, it only runs `body`.
    ///
    /// For resumptions whose tasks should go on here (a caller given its
    /// answer), and nothing else: a task resumed that way runs here until
    /// it next suspends (a hosted service's replicas on the global pool
    /// are resumed outside it, and stay there).
    @inline(__always)
    package func keepingGlobalJobs(_ body: () -> Void) {
        guard resumesGlobalJobs, loopThread.load(ordering: .relaxed) == Self.currentThreadID(),
              !cort_global_jobs_capturing(),
              cort_monotonic_nanoseconds() - busySince.load(ordering: .relaxed)
                < Self.keepsGlobalJobsWhileBusyNanoseconds else {
            body()
            return
        }
        keepGlobalJobs(body)
    }

    /// ``keepingGlobalJobs(_:)``'s capture, in a buffer of its own on this
    /// thread's stack (a thread relieved of the loop in a long job may still
    /// be in one when the loop's new thread starts another).
    private func keepGlobalJobs(_ body: () -> Void) {
        withUnsafeTemporaryAllocation(of: UnsafeMutableRawPointer?.self, capacity: Self.globalJobCapacity) { jobs in
            cort_global_jobs_capture_begin(jobs.baseAddress, Self.globalJobCapacity)
            body()
            let kept = cort_global_jobs_capture_end()
            guard kept > 0 else { return }
            if cort_in_watched_job() {
                // In a job the loop may be taken from at any moment: through
                // the queue, which whoever runs the loop then takes them from.
                let wake = shared.withLock { shared -> Bool in
                    for index in 0..<kept {
                        if let job = jobs[index] { shared.queue.append(.globalJob(unsafeBitCast(job, to: UnownedJob.self))) }
                    }
                    return needsSignal(&shared)
                }
                if wake { signal() }
            } else {
                // The loop's own work (a reader's turn, a flush, a timer):
                // first thing next turn, in the order they were resumed.
                for index in 0..<kept {
                    if let job = jobs[index] { resumed.append(.globalJob(unsafeBitCast(job, to: UnownedJob.self))) }
                }
            }
        }
    }

    /// Calls the readers whose socket `ready` says is readable, with what
    /// they enqueue going to `resumed` (run first next turn); drops those
    /// that stopped.
    private func callReaders(where ready: (Reader) -> Bool) {
        guard !readers.isEmpty else { return }
        feeder.store(Self.currentThreadID(), ordering: .relaxed)
        defer { feeder.store(0, ordering: .relaxed) }
        // By position, holding no copy of the array (a change to it would
        // then copy it): a turn may add or remove readers, so each is found
        // again by its id after its turn.
        var position = 0
        while position < readers.count {
            let reader = readers[position]
            position += 1
            guard reader.pending || ready(reader) else { continue }
            let left = reader.turn()
            guard let index = readers.firstIndex(where: { $0.id == reader.id }) else { continue }
            position = index + 1
            if left == .stop {
                readers.remove(at: index)
                position = index
                // Its `read` returns.
                waiters.removeValue(forKey: reader.id)?.continuation.resume()
            } else if readers[index].pending != (left == .more) {
                // Only on a change: any write to `readers` makes the loop collect its poll set anew.
                readers[index].pending = left == .more
            }
        }
    }

    /// `Task.yield()` for an actor on this reactor: the jobs queued now run
    /// first, then the caller goes on, from this loop's own queue.
    ///
    /// `Task.yield()` itself puts the task on the global pool, from where it
    /// hops back to the actor: two thread switches and a wake-up per yield.
    package func yieldTurn(isolation: isolated (any Actor)) async {
        await withTaskExecutorPreference(waitExecutor, isolation: isolation) {
            await withUnsafeContinuation(isolation: isolation) { (continuation: UnsafeContinuation<Void, Never>) in
                submit(.closure { continuation.resume() })
            }
        }
    }

    private func cancelWaiter(_ id: UInt64) {
        removeReader(id)
        waiters.removeValue(forKey: id)?.continuation.resume(throwing: CancellationError())
    }

    /// Whether the loop is asleep in (or about to enter) a blocking poll.
    package var isAsleep: Bool { shared.withLock { $0.sleeping } }

    /// The number of pending socket waits (read on the reactor thread).
    package func waiterCount() async -> Int {
        await valueOnLoop { self.waiters.count }
    }

    /// The number of readers (read on the reactor thread).
    package func readerCount() async -> Int {
        await valueOnLoop { self.readers.count }
    }

    /// The CPU time the reactor thread has used so far.
    package func threadCPUTime() async -> Duration {
        await valueOnLoop { .nanoseconds(cort_thread_cpu_nanoseconds()) }
    }

    /// What `read` gives, read on the loop's thread after the jobs queued before it.
    private func valueOnLoop<T: Sendable>(_ read: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            execute { continuation.resume(returning: read()) }
        }
    }

    // MARK: Queue

    fileprivate func enqueueTaskJob(_ job: UnownedJob, kind: ReactorTaskExecutor.Kind) {
        switch kind {
        case .wait: submit(.taskJob(job))
        case .general: submit(.preferringJob(job))
        }
    }

    private func submit(_ work: Work) {
        let current = Self.currentThreadID()
        if feeder.load(ordering: .relaxed) == current {
            resumed.append(work)
            return
        }
        if owner.load(ordering: .relaxed) != current { foreignEnqueues.add(1, ordering: .relaxed) }
        let (drainLate, wake): (Bool, Bool) = shared.withLock { shared in
            shared.queue.append(work)
            switch shared.state {
            case .running, .stopping:
                return (false, needsSignal(&shared))
            case .stopped:
                if shared.lateDraining { return (false, false) }
                shared.lateDraining = true
                return (true, false)
            }
        }
        if wake { signal() }
        if drainLate {
            // Swift calls `enqueue` on an unowned executor reference: a job run
            // here may drop the last reference to this reactor (an actor on it
            // going away), so hold one until the queue is drained.
            let retained = Unmanaged.passRetained(self)
            runLateQueue()
            retained.release()
        }
    }

    /// Whether the loop sleeps with no wake pending: then the caller must
    /// ``signal()`` once it has let go of the lock. Decided with the lock
    /// held, so a wake can neither be lost (the loop sets `sleeping` under the
    /// lock after finding the queue empty) nor doubled.
    ///
    /// The write itself comes after the lock: the loop it wakes takes the
    /// same lock at once, and would otherwise spin on it for the length of
    /// the system call (measured: 3% of a caller's samples at one call in flight).
    private func needsSignal(_ shared: inout Shared) -> Bool {
        guard shared.sleeping, !shared.wakePending else { return false }
        shared.wakePending = true
        return true
    }

    /// Writes the wake-up descriptor (after ``needsSignal(_:)`` said so). A
    /// write that lands after the loop already woke leaves the descriptor
    /// readable: the loop's next poll returns at once and drains it.
    private func signal() {
        wakeups.add(1, ordering: .relaxed)
        _ = cort_wakefd_signal(wakeWriteFD)
    }

    /// After the thread ended, jobs run on the thread that enqueues them, one
    /// drainer at a time, so this stays a serial executor and strands no task.
    private func runLateQueue() {
        owner.store(Self.currentThreadID(), ordering: .sequentiallyConsistent)
        while let work = shared.withLock({ shared -> Work? in
            if let work = shared.queue.popFirst() { return work }
            shared.lateDraining = false
            owner.store(0, ordering: .sequentiallyConsistent)
            return nil
        }) {
            _ = run(work, watched: false)
        }
    }

    /// Runs one piece of work; false when the watchdog took the loop over
    /// while it ran (this thread then touches no loop state again).
    private func run(_ work: Work, watched: Bool) -> Bool {
        if watched {
            switch work {
            case .preferringJob(let job): return runWatched(job, global: false)
            case .globalJob(let job): return runWatched(job, global: true)
            default: break
            }
        }
        jobsRun.add(1, ordering: .relaxed)
        switch work {
        case .job(let job):
            job.runSynchronously(on: asUnownedSerialExecutor())
        case .taskJob(let job):
            // It runs serially on this thread like every job here, so it may
            // count as isolated to this executor: the waiting actor's code then
            // continues without another enqueue.
            job.runSynchronously(isolatedTo: asUnownedSerialExecutor(), taskExecutor: waitExecutor.asUnownedTaskExecutor())
        case .preferringJob(let job):
            // Not isolated to this serial executor: the task runs whatever it
            // runs (nonisolated code, default actors) on this thread, and an
            // actor on the reactor that it calls is entered by a hop (a job
            // in this same queue, no wake-up).
            job.runSynchronously(on: generalExecutor.asUnownedTaskExecutor())
        case .globalJob(let job):
            cort_global_job_run(unsafeBitCast(job, to: UnsafeMutableRawPointer.self))
        case .closure(let body): body()
        case .registerWaiter(let id, let descriptor, let continuation): register(id, descriptor: descriptor, continuation)
        case .registerReader(let registration):
            register(registration.reader.id, reader: registration.reader, registration.continuation)
        }
        return true
    }

    /// Runs a job of a task preferring this reactor (or, `global`, one
    /// ``keepingGlobalJobs(_:)`` kept) where the watchdog sees it: if it
    /// runs past ``handOffAfter``, the watchdog takes the loop.
    private func runWatched(_ job: UnownedJob, global: Bool) -> Bool {
        jobsRun.add(1, ordering: .relaxed)
        if !watchdogStarted {
            watchdogStarted = true
            try? spawnThread(.watchdog)
        }
        foreignEpoch &+= 1
        let token = foreignEpoch << 2 | 1
        // Sequentially consistent with the watchdog's parking (it sets
        // `watchdogParked`, then reads this): one of the two sees the other.
        foreignJob.store(token, ordering: .sequentiallyConsistent)
        if watchdogParked.load(ordering: .sequentiallyConsistent),
           watchdogParked.exchange(false, ordering: .sequentiallyConsistent) {
            _ = cort_wakefd_signal(watchdogFDs[1])
        }
        cort_watched_job_begin()
        if global {
            // As the global executor runs it: on the generic executor, so
            // the task does not take this reactor for its own.
            cort_global_job_run(unsafeBitCast(job, to: UnsafeMutableRawPointer.self))
        } else {
            job.runSynchronously(on: generalExecutor.asUnownedTaskExecutor())
        }
        cort_watched_job_end()
        return foreignJob.compareExchange(expected: token, desired: token & ~1,
                                          ordering: .acquiringAndReleasing).exchanged
    }

    // MARK: Thread

    private func spawnThread(_ role: ReactorStart.Role) throws {
        let context = Unmanaged.passRetained(ReactorStart(reactor: self, role: role)).toOpaque()
        #if canImport(Darwin)
        var thread: pthread_t?
        #else
        var thread = pthread_t()
        #endif
        let result = pthread_create(&thread, nil, { argument in
            #if canImport(Darwin)
            let start = Unmanaged<ReactorStart>.fromOpaque(argument).takeRetainedValue()
            #else
            let start = Unmanaged<ReactorStart>.fromOpaque(argument!).takeRetainedValue()
            #endif
            cort_set_thread_name(start.reactor.threadName)
            switch start.role {
            case .loop: start.reactor.loopThreadMain()
            case .watchdog: start.reactor.watchdogMain()
            }
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<ReactorStart>.fromOpaque(context).release()
            throw ZeroMQError(.other, "pthread_create failed (errno \(result))")
        }
        pthread_detach(thread)
        if role == .loop { shared.withLock { $0.started = true } }
    }

    private func loopThreadMain() {
        owner.store(Self.currentThreadID(), ordering: .sequentiallyConsistent)
        // Not busy yet (a watchdog taking the loop over keeps the time).
        busySince.store(cort_monotonic_nanoseconds(), ordering: .relaxed)
        loopEnded(runLoop())
    }

    /// The loop ended on this thread: it stopped, or was taken over while
    /// this thread ran a long job (which has returned now).
    private func loopEnded(_ end: LoopEnd) {
        switch end {
        case .stopped:
            let waiters = shared.withLock { shared in
                shared.loopEnded = true
                defer { shared.stopWaiters = [] }
                return shared.stopWaiters
            }
            _ = cort_wakefd_signal(doneFDs[1])
            _ = cort_wakefd_signal(watchdogFDs[1])
            for waiter in waiters { waiter.resume() }
        case .handedOff:
            handedOffThreads.subtract(1, ordering: .relaxed)
        }
    }

    static func currentThreadID() -> UInt {
        #if canImport(Darwin)
        return UInt(bitPattern: pthread_self())
        #else
        return UInt(pthread_self())
        #endif
    }
}

/// The reactor in its role as a `TaskExecutor`, kept apart from the
/// `SerialExecutor` role so the loop knows which way to run each job.
///
/// Two of them: `.wait` is preferred only around a socket wait of an actor on
/// the reactor, so its jobs may run isolated to the reactor's serial executor
/// (the waiting actor goes on without another enqueue); `.general` serves any
/// task, whose jobs must not claim that isolation.
private final class ReactorTaskExecutor: TaskExecutor, @unchecked Sendable {
    // @unchecked: the stored properties are immutable: an unowned reference to
    // a Sendable object that outlives this one (it owns it), and an enum.
    enum Kind { case wait, general }

    unowned let reactor: ZeroMQReactor
    let kind: Kind

    init(reactor: ZeroMQReactor, kind: Kind) {
        self.reactor = reactor
        self.kind = kind
    }

    func enqueue(_ job: consuming ExecutorJob) {
        reactor.enqueueTaskJob(UnownedJob(job), kind: kind)
    }

    func asUnownedTaskExecutor() -> UnownedTaskExecutor {
        UnownedTaskExecutor(ordinary: self)
    }
}

/// What the new thread needs, passed through `pthread_create`'s argument.
private final class ReactorStart {
    enum Role { case loop, watchdog }

    let reactor: ZeroMQReactor
    let role: Role
    init(reactor: ZeroMQReactor, role: Role) {
        self.reactor = reactor
        self.role = role
    }
}

// MARK: - The loop

extension ZeroMQReactor {
    /// How many rounds of newly queued jobs one iteration runs before polling.
    private static var batchesPerIteration: Int { 16 }
    /// Jobs the loop runs a turn from `resumed`, and then from the queue,
    /// before it asks its sockets again.
    private static var jobsPerIteration: Int { 1024 }

    private enum LoopEnd { case stopped, handedOff }

    private func runLoop() -> LoopEnd {
        loopThread.store(Self.currentThreadID(), ordering: .relaxed)
        while true {
            loopIterations.add(1, ordering: .relaxed)

            // 1. Run everything queued, including what those jobs enqueue (a
            // resumed task, an actor hop), up to a bound so that sockets are
            // still polled regularly under a steady stream of jobs. (A thread
            // that took the loop over first runs what the last one left.)
            //
            // Tasks resumed by their sockets go first, then at most
            // `jobsPerIteration` others: a flood of queued jobs (100,000
            // calls started at once) would otherwise run to its end before a
            // socket is read again, and every call in it could time out
            // waiting for answers that have arrived.
            var stopping = false
            var budget = Self.jobsPerIteration
            let thisThread = Self.currentThreadID()
            while budget > 0, let work = resumed.popFirst() {
                budget -= 1
                // Not for a job the watchdog may take the loop from (a task
                // preferring the reactor, a kept global job): what it
                // enqueues goes to the queue.
                switch work {
                case .preferringJob, .globalJob:
                    guard run(work, watched: true) else { return .handedOff }
                default:
                    feeder.store(thisThread, ordering: .relaxed)
                    _ = run(work, watched: true)
                    feeder.store(0, ordering: .relaxed)
                }
            }
            budget = Self.jobsPerIteration
            for _ in 0..<Self.batchesPerIteration where budget > 0 {
                if batch.isEmpty {
                    let more = shared.withLock { shared -> Bool in
                        swap(&batch, &shared.queue)
                        stopping = shared.state == .stopping
                        return !batch.isEmpty
                    }
                    guard more else { break }
                }
                while budget > 0, let work = batch.popFirst() {
                    budget -= 1
                    guard run(work, watched: true) else { return .handedOff }
                }
            }

            if stopping {
                if !isStopping {
                    isStopping = true
                    readers.removeAll()
                    failAllWaiters()
                }
                let drained = batch.isEmpty && resumed.isEmpty
                let finished = shared.withLock { shared -> Bool in
                    guard drained, shared.queue.isEmpty else { return false }
                    shared.state = .stopped
                    return true
                }
                if finished { break }
                continue
            }

            // 2. Ask each socket with waiters what it is ready for now; if none
            // is, sleep in poll(2) until a socket's descriptor signals, a
            // deadline is due, or another thread enqueues work.
            let now = collectPolledSockets()
            var failed = !readSocketEvents(beforeSleeping: true) { _ in true }
            let readerPending = readers.contains { $0.pending }
            if !failed && !readerPending && !polledSockets.contains(where: { $0.ready != 0 }) {
                failed = !sleepInPoll(timeout: pollTimeout(now: now))
            } else if !failed && !waitedDescriptors.isEmpty {
                // A socket is ready, so the loop does not sleep; the waited
                // descriptors are still looked at, or a busy socket would
                // starve them.
                pollWaitedDescriptors()
            }

            // 3. Resume the waiters whose sockets are ready or whose deadline passed.
            if failed {
                // ETERM (a context was shut down) or worse: wake every waiter so
                // each retries its operation and gets the real error.
                resumeWaiters { _ in true }
                callReaders { _ in true }
            } else {
                let after: Duration? = waiters.values.contains { $0.deadline != nil } ? epoch.duration(to: .now) : nil
                resumeWaiters { waiter in
                    if let deadline = waiter.deadline, let after, deadline <= after { return true }
                    if waiter.descriptor >= 0 { return self.readableDescriptors.contains(waiter.descriptor) }
                    guard waiter.events != 0, let socket = waiter.socket, let index = self.socketIndex[socket] else { return false }
                    return self.polledSockets[index].ready & waiter.events != 0
                }
                callReaders { reader in
                    switch reader.source {
                    case .socket(let socket, _):
                        guard let index = self.socketIndex[socket] else { return false }
                        return self.polledSockets[index].ready & Int16(ZMQ_POLLIN) != 0
                    case .descriptor(let descriptor):
                        return self.readableDescriptors.contains(descriptor)
                    }
                }
            }
        }
        loopThread.store(0, ordering: .relaxed)
        owner.store(0, ordering: .sequentiallyConsistent)
        return .stopped
    }

    /// Sets each polled socket's `ready` to what it is ready for now
    /// (`ZMQ_EVENTS`, masked by what its waiters want), for the sockets
    /// `include` picks (the others keep theirs); false when libzmq fails
    /// (ETERM: the context was shut down).
    ///
    /// libzmq's descriptor (`ZMQ_FD`) is edge-triggered: it signals that a
    /// socket's state may have changed, and the jobs just run (a send, a
    /// receive) may have changed it without a signal. So every socket is
    /// asked before the loop sleeps; after, only those whose descriptor
    /// signalled. Asking costs a system call (libzmq processes the socket's
    /// commands): `zmq_poll` asks each socket twice per sleep and polls
    /// twice, this once and once.
    ///
    /// Before sleeping, a socket used for no call since its last check is
    /// taken to be as it was then, and one whose last call was a receive
    /// that found nothing is taken not to be readable (see
    /// ``SocketActivity``): a change since then made its descriptor signal,
    /// and the poll returns at once to read it.
    private func readSocketEvents(beforeSleeping: Bool = false, _ include: (Int) -> Bool) -> Bool {
        for index in polledSockets.indices where include(index) {
            let activity = polledSockets[index].activity
            let wanted = polledSockets[index].events
            if beforeSleeping {
                if activity.operations == activity.checkedAt {
                    polledSockets[index].ready = activity.checkedEvents & wanted
                    continue
                }
                if wanted == Int16(ZMQ_POLLIN), activity.operations == activity.receivedNothingAt {
                    polledSockets[index].ready = 0
                    continue
                }
            }
            readinessChecks.add(1, ordering: .relaxed)
            guard let events = activity.readEvents(of: polledSockets[index].socket) else { return false }
            polledSockets[index].ready = events & wanted
        }
        return true
    }

    /// Sleeps in poll(2) on the wake-up descriptor and the sockets'
    /// descriptors, then reads the events of the sockets whose descriptor
    /// signalled; false when libzmq fails.
    private func sleepInPoll(timeout dueTimeout: Int) -> Bool {
        pollDescriptors.removeAll(keepingCapacity: true)
        pollDescriptors.append(pollfd(fd: wakeReadFD, events: Int16(POLLIN), revents: 0))
        for index in polledSockets.indices {
            let socket = polledSockets[index].socket
            guard let descriptor = polledSockets[index].activity.descriptor(of: socket) else { return false }
            pollDescriptors.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0))
        }
        appendWaitedDescriptors()
        let backlog = !batch.isEmpty || !resumed.isEmpty
        // A few answers awaited, or one that came since the loop last went
        // idle (its caller is likely to send the next call at once): poll
        // for up to the spin's window before sleeping (see IdleSpin).
        let counts = requests.load(ordering: .relaxed)
        let awaited = counts & 0xFFFF_FFFF
        let ended = counts >> 32
        let polls = dueTimeout != 0 && !backlog && idleSpin.maximum > .zero
            && awaited <= Self.pollingInFlightLimit && (awaited > 0 || ended != endedAtLastIdle)
        endedAtLastIdle = ended
        let idleSince = polls ? ContinuousClock.now : nil
        var result: Int32 = 0
        var dueTimeout = dueTimeout
        if let idleSince, idleSpin.window > .zero {
            idlePolls.add(1, ordering: .relaxed)
            // Never past a waiter's deadline (`dueTimeout` in milliseconds, -1 for none).
            let window = dueTimeout > 0 ? min(idleSpin.window, .milliseconds(dueTimeout)) : idleSpin.window
            result = pollWithoutSleeping(until: idleSince + window)
            if result != 0 {
                idlePollsAnswered.add(1, ordering: .relaxed)
            } else if dueTimeout > 0 {
                // What the polling took comes off the sleep, rounded up as pollTimeout does.
                let left = Duration.milliseconds(dueTimeout) - (ContinuousClock.now - idleSince)
                dueTimeout = left <= .zero ? 0 : Int(clamping: (left + .microseconds(999)).wholeMilliseconds)
            }
        }
        if result == 0 {
            let timeout = shared.withLock { shared -> Int in
                if backlog || !shared.queue.isEmpty || shared.state != .running { return 0 }
                if dueTimeout != 0 { shared.sleeping = true }
                return dueTimeout
            }
            result = poll(&pollDescriptors, nfds_t(pollDescriptors.count), Int32(clamping: timeout))
        }
        if let idleSince { idleSpin.idled(for: ContinuousClock.now - idleSince) }
        if resumesGlobalJobs, !backlog { busySince.store(cort_monotonic_nanoseconds(), ordering: .relaxed) }
        let pending = shared.withLock { shared -> Bool in
            shared.sleeping = false
            defer { shared.wakePending = false }
            return shared.wakePending
        }
        // Reading after the lock is fine: a new write needs `sleeping`, which
        // only this thread sets, later. A write decided before but made after
        // this drain leaves the descriptor readable, and the next poll
        // reports it: that drains it too.
        if pending || (result > 0 && pollDescriptors[0].revents & Int16(POLLIN) != 0) {
            cort_wakefd_drain(wakeReadFD)
        }
        // EINTR or nothing signalled: no socket's state changed.
        guard result > 0 else { return true }
        noteReadableDescriptors(from: polledSockets.count + 1)
        // Descriptor 0 is the wake-up one; socket `index` has `index + 1`.
        return readSocketEvents { self.pollDescriptors[$0 + 1].revents != 0 }
    }

    /// Polls `pollDescriptors` without sleeping until one signals (the
    /// result of `poll`), work is queued or the loop is asked to stop, or
    /// `end` passes (0 for those two). A failed poll (EINTR) is polled again.
    private func pollWithoutSleeping(until end: ContinuousClock.Instant) -> Int32 {
        while true {
            let result = poll(&pollDescriptors, nfds_t(pollDescriptors.count), 0)
            if result > 0 { return result }
            // Nothing writes the wake-up descriptor while the loop is not
            // marked sleeping: look at the queue itself.
            if shared.withLock({ !$0.queue.isEmpty || $0.state != .running }) { return 0 }
            if ContinuousClock.now >= end { return 0 }
            // A thread woken on this CPU meanwhile (a libzmq I/O thread, a
            // thread of the pool) runs now, not when the scheduler next
            // preempts: measured without it, p99 at one call in flight went
            // from 1.0× the C echo's to 2.1×.
            sched_yield()
        }
    }

    /// Notes which waited descriptors are readable now, without sleeping.
    private func pollWaitedDescriptors() {
        pollDescriptors.removeAll(keepingCapacity: true)
        appendWaitedDescriptors()
        guard poll(&pollDescriptors, nfds_t(pollDescriptors.count), 0) > 0 else { return }
        noteReadableDescriptors(from: 0)
    }

    /// Adds the waited descriptors (``waitUntilReadable(_:isolation:)``) to `pollDescriptors`.
    private func appendWaitedDescriptors() {
        for descriptor in waitedDescriptors {
            pollDescriptors.append(pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0))
        }
    }

    /// Notes which waited descriptors the last poll found readable; they
    /// start at `first` in `pollDescriptors`.
    private func noteReadableDescriptors(from first: Int) {
        for index in first..<pollDescriptors.count where pollDescriptors[index].revents != 0 {
            readableDescriptors.insert(pollDescriptors[index].fd)
        }
    }

    /// One polled socket per socket with waiters or a reader, with what they
    /// wait for (kept as they were while no waiter or reader changed).
    /// Returns the time now (from ``epoch``) if any waiter has a deadline.
    private func collectPolledSockets() -> Duration? {
        readableDescriptors.removeAll(keepingCapacity: true)
        guard pollSetChanged else {
            return pollSetHasDeadline ? epoch.duration(to: .now) : nil
        }
        pollSetChanged = false
        polledSockets.removeAll(keepingCapacity: true)
        socketIndex.removeAll(keepingCapacity: true)
        waitedDescriptors.removeAll(keepingCapacity: true)
        var hasDeadline = false
        for waiter in waiters.values {
            if waiter.deadline != nil { hasDeadline = true }
            if waiter.descriptor >= 0 {
                waitedDescriptors.append(waiter.descriptor)
                continue
            }
            guard waiter.events != 0, let socket = waiter.socket, let activity = waiter.activity else { continue }
            addPolled(socket, activity, for: waiter.events)
        }
        for reader in readers {
            switch reader.source {
            case .socket(let socket, let activity): addPolled(socket, activity, for: Int16(ZMQ_POLLIN))
            case .descriptor(let descriptor): waitedDescriptors.append(descriptor)
            }
        }
        pollSetHasDeadline = hasDeadline
        return hasDeadline ? epoch.duration(to: .now) : nil
    }

    /// Adds `events` to what `socket` is polled for, adding the socket first if it is not polled yet.
    private func addPolled(_ socket: UnsafeMutableRawPointer, _ activity: SocketActivity, for events: Int16) {
        if let index = socketIndex[socket] {
            polledSockets[index].events |= events
        } else {
            socketIndex[socket] = polledSockets.count
            polledSockets.append(PolledSocket(socket: socket, activity: activity, events: events))
        }
    }

    /// -1 (sleep until an event) unless a waiter has a deadline.
    private func pollTimeout(now: Duration?) -> Int {
        guard let now else { return -1 }
        var earliest: Duration?
        for waiter in waiters.values {
            if let deadline = waiter.deadline, earliest.map({ deadline < $0 }) ?? true { earliest = deadline }
        }
        guard let earliest else { return -1 }
        let remaining = earliest - now
        if remaining <= .zero { return 0 }
        // Round up so the loop does not wake just before the deadline.
        return Int(clamping: (remaining + .microseconds(999)).wholeMilliseconds)
    }

    private func resumeWaiters(where ready: (Waiter) -> Bool) {
        readyIDs.removeAll(keepingCapacity: true)
        for (id, waiter) in waiters where ready(waiter) { readyIDs.append(id) }
        guard !readyIDs.isEmpty else { return }
        // Resuming enqueues the waiting task; if its actor runs on this
        // reactor, that lands in `resumed` (run first), without a wake-up.
        feeder.store(Self.currentThreadID(), ordering: .relaxed)
        defer { feeder.store(0, ordering: .relaxed) }
        for id in readyIDs {
            waiters.removeValue(forKey: id)?.continuation.resume()
        }
    }

    private func failAllWaiters() {
        let pending = waiters
        waiters.removeAll()
        for waiter in pending.values {
            waiter.continuation.resume(throwing: ZeroMQError(.reactorShutDown, "the reactor shut down while waiting for a socket"))
        }
    }
}

// MARK: - The watchdog

extension ZeroMQReactor {
    /// Idle periods (no job of a task preferring the reactor started) before
    /// the watchdog sleeps until one does.
    private static var idlePeriodsBeforeParking: Int { 10 }

    /// Checks every ``handOffAfter`` whether the job of a task preferring
    /// this reactor that runs now is the one that ran at the last check; if
    /// so, takes the loop over on this thread.
    private func watchdogMain() {
        let period = Int32(clamping: Self.handOffAfter.wholeMilliseconds)
        var lastSeen = foreignJob.load(ordering: .acquiring)
        var idlePeriods = 0
        while true {
            if idlePeriods >= Self.idlePeriodsBeforeParking {
                watchdogParked.store(true, ordering: .sequentiallyConsistent)
                if foreignJob.load(ordering: .sequentiallyConsistent) == lastSeen && !isStopped {
                    _ = cort_wakefd_wait(watchdogFDs[0], -1)
                }
                watchdogParked.store(false, ordering: .sequentiallyConsistent)
                idlePeriods = 0
            } else {
                _ = cort_wakefd_wait(watchdogFDs[0], period)
            }
            if isStopped { return }
            let now = foreignJob.load(ordering: .acquiring)
            defer { lastSeen = now }
            // Running, and not taken over already (a job whose thread lost
            // the loop stays marked until it returns).
            guard now & 3 == 1 else {
                idlePeriods = now == lastSeen ? idlePeriods + 1 : 0
                continue
            }
            idlePeriods = 0
            guard now == lastSeen,
                  handedOffThreads.load(ordering: .relaxed) < Self.maxHandedOffThreads,
                  foreignJob.compareExchange(expected: now, desired: now | 2, ordering: .acquiringAndReleasing).exchanged
            else { continue }
            // The loop is this thread's now: the one running the long job
            // finds that out when the job returns, and ends.
            handedOffThreads.add(1, ordering: .relaxed)
            handOffs.add(1, ordering: .relaxed)
            owner.store(Self.currentThreadID(), ordering: .sequentiallyConsistent)
            // A new watchdog for the loop's new thread.
            watchdogStarted = (try? spawnThread(.watchdog)) != nil
            loopEnded(runLoop())
            return
        }
    }

    private var isStopped: Bool { shared.withLock { $0.state == .stopped } }
}
