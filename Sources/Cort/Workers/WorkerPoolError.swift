/// Why a ``WorkerPool`` did not run a piece of work, or could not run at all.
///
/// A `code` a program can switch on, a `message` for people, and the
/// underlying `cause` when there is one (the error `makeWorker` threw).
/// Codes are structs over a private enum so new ones can be added.
///
/// ```swift
/// do {
///     let thumbnail = try await pool.trySubmit { renderer in try await renderer.render(page) }
/// } catch let error as WorkerPoolError where error.code == .overloaded {
///     // the queue was full: the work did not run, try later or elsewhere
/// }
/// ```
public struct WorkerPoolError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: Sendable {
            case overloaded
            case shutDown
            case deadlineExceeded
            case workerFailed
            case invalidConfiguration
            case alreadyRunning
            case notRunning
        }

        let value: Value

        /// The queue was full (`trySubmit`): the work did not run.
        public static let overloaded = Code(value: .overloaded)
        /// The pool takes no new work: `shutdown()` was called, or `run()` was
        /// cancelled or has returned. Work that fails with this code before it
        /// started did not run.
        public static let shutDown = Code(value: .shutDown)
        /// The submit's timeout passed: before the work started (it never
        /// will), or while it ran (its task was cancelled).
        public static let deadlineExceeded = Code(value: .deadlineExceeded)
        /// `makeWorker` threw, so the pool stopped; `cause` is that error.
        public static let workerFailed = Code(value: .workerFailed)
        /// The configuration asks for something impossible (no workers, no queue).
        public static let invalidConfiguration = Code(value: .invalidConfiguration)
        /// `run()` was called a second time; a pool runs once.
        public static let alreadyRunning = Code(value: .alreadyRunning)
        /// Work was submitted to a pool that nobody runs: `run()` did not
        /// begin within 1 second (on the pool's clock) of the submit, so the
        /// work did not run. Run the pool with
        /// ``WorkerPool/withPool(configuration:clock:taskExecutor:isolation:makeWorker:body:)``,
        /// in a `ServiceGroup`, or with `run()` in a task of your own.
        public static let notRunning = Code(value: .notRunning)

        init(value: Value) { self.value = value }

        /// The code's name, for logs.
        public var description: String {
            switch value {
            case .overloaded: "overloaded"
            case .shutDown: "shut down"
            case .deadlineExceeded: "deadline exceeded"
            case .workerFailed: "worker failed"
            case .invalidConfiguration: "invalid configuration"
            case .alreadyRunning: "already running"
            case .notRunning: "not running"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What happened, for people.
    public var message: String
    /// The error underneath, when there is one (what `makeWorker` threw).
    public var cause: (any Error)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// The code, the message and the cause, for logs.
    public var description: String {
        var text = "WorkerPoolError(\(code)): \(message)"
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}

extension WorkerPoolError {
    static let queueFull = WorkerPoolError(.overloaded, "the worker pool's queue is full; the work did not run")
    static let notAccepting = WorkerPoolError(.shutDown, "the worker pool is shutting down and takes no new work")
    static let stopped = WorkerPoolError(.shutDown, "the worker pool has stopped (its run() returned) and takes no work")
    static let neverStarted = WorkerPoolError(
        .notRunning,
        "nothing runs this worker pool: run() did not begin within \(workerPoolStartGrace) of the submit, "
            + "so the work did not run; use WorkerPool.withPool, put the pool in a ServiceGroup, or call run() in a task")
    static let expiredBeforeStart = WorkerPoolError(
        .deadlineExceeded, "the timeout passed before a worker started the work; it did not run")
    static let expiredWhileRunning = WorkerPoolError(
        .deadlineExceeded, "the timeout passed while the work ran; its task was cancelled")
}
