internal import CZeroMQ

/// A ZeroMQ socket.
///
/// **Not `Sendable`, on purpose.** libzmq sockets are not thread-safe: one
/// thread (or one actor) must own a socket and make every call on it. Leaving
/// the class non-`Sendable` lets the compiler enforce that: a socket stays in
/// the isolation domain that created it (typically an actor running on a
/// ``ZeroMQReactor``) unless it is explicitly `sending`-transferred, whole, to
/// a new owner.
///
/// Three ways to do I/O:
/// - **Nonblocking**, anywhere: `trySend(_:)` (taking the message) gives it back when the
///   pipe is full, ``tryReceive()`` returns `nil` when nothing is queued.
/// - **Async on the reactor**: ``receive(isolation:)`` and ``send(_:isolation:)``
///   from an actor whose executor is the socket's reactor; they suspend until
///   the socket is ready, never blocking a thread.
/// - **Async off the reactor**: ``receiveOffReactor(isolation:)`` from any
///   owner (a default actor on the global pool), which sends with
///   `trySend(_:)` on its own thread; the reactor polls only the socket's
///   descriptor. See there for what the owner must do after its own sends.
/// - **Blocking**, only on plain threads you own: ``blockingReceive()``,
///   ``blockingSend(_:)`` and ``poll(_:timeout:)``. Never call these from
///   Swift's cooperative pool (any `async` context not on a reactor): they
///   block one of its few threads.
///
/// The socket is closed, with the linger given at creation, when the object
/// goes away. It keeps its context alive until then.
///
/// ```swift
/// actor Client {
///     let reactor: ZeroMQReactor
///     let socket: ZeroMQSocket
///     nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }
///
///     init(context: ZeroMQContext, reactor: ZeroMQReactor, endpoint: String) throws {
///         self.reactor = reactor
///         socket = try ZeroMQSocket(.dealer, context: context, reactor: reactor)
///         try socket.connect(endpoint)
///     }
///
///     func call(_ request: [UInt8]) async throws -> [UInt8] {
///         try await socket.send(ZeroMQMessage([request]))
///         return try await socket.receive().frame(at: 0)
///     }
/// }
/// ```
public final class ZeroMQSocket {
    /// libzmq's socket. Used through ``handle``, which counts each use.
    let rawHandle: UnsafeMutableRawPointer

    /// How this socket has been used, for its reactor (see ``SocketActivity``).
    let activity = SocketActivity()

    /// libzmq's socket, for a call into libzmq: every call may change what
    /// the socket is ready for without its descriptor signalling, so each
    /// one is counted (see ``SocketActivity``).
    var handle: UnsafeMutableRawPointer {
        activity.operations &+= 1
        return rawHandle
    }

    /// The socket's kind (DEALER, ROUTER, ...).
    public let kind: Kind

    /// The context the socket belongs to (kept alive by the socket).
    public let context: ZeroMQContext

    /// The reactor that runs this socket's async operations, if any.
    public let reactor: ZeroMQReactor?

    /// Opens a socket of `kind` in `context`.
    ///
    /// - Parameters:
    ///   - kind: the socket type.
    ///   - context: the owning context; retained until the socket closes.
    ///   - reactor: the reactor for ``receive(isolation:)`` / ``send(_:isolation:)``; `nil` for
    ///     sockets used only with the nonblocking or blocking calls.
    ///   - linger: how long unsent messages are kept when the socket closes (libzmq's
    ///     `ZMQ_LINGER`). Zero, the default, discards them at once; it is never infinite.
    /// - Throws: ``ZeroMQError``, e.g. ``ZeroMQError/Code/terminated`` after the context's shutdown.
    public init(_ kind: Kind, context: ZeroMQContext, reactor: ZeroMQReactor? = nil, linger: Duration = .zero) throws {
        rawHandle = try ZeroMQCall.pointer("zmq_socket") { zmq_socket(context.handle, kind.rawValue) }
        self.kind = kind
        self.context = context
        self.reactor = reactor
        try set(.linger, linger)
    }

    deinit {
        // No reactor waiter can reference the socket now: a waiting receive/send
        // holds a strong reference to it for the whole wait.
        zmq_close(rawHandle)
    }

    // MARK: Endpoints

    /// Binds to `endpoint` (e.g. `tcp://127.0.0.1:*`, `inproc://name`) and returns the
    /// resolved endpoint (with the chosen port for `*`).
    @discardableResult
    public func bind(_ endpoint: String) throws -> String {
        try ZeroMQCall.int("zmq_bind") { zmq_bind(handle, endpoint) }
        return lastEndpoint ?? endpoint
    }

    /// Stops listening on `endpoint` (as returned by ``bind(_:)`` or ``lastEndpoint``).
    public func unbind(_ endpoint: String) throws {
        try ZeroMQCall.int("zmq_unbind") { zmq_unbind(handle, endpoint) }
    }

    /// Connects to `endpoint`; libzmq connects (and reconnects) in the background.
    public func connect(_ endpoint: String) throws {
        try ZeroMQCall.int("zmq_connect") { zmq_connect(handle, endpoint) }
    }

    /// Disconnects from `endpoint`.
    public func disconnect(_ endpoint: String) throws {
        try ZeroMQCall.int("zmq_disconnect") { zmq_disconnect(handle, endpoint) }
    }

    /// The last endpoint bound or connected (`ZMQ_LAST_ENDPOINT`), with the resolved
    /// port of a `tcp://host:*` bind; `nil` before any.
    public var lastEndpoint: String? {
        guard let text = try? getString(ZMQ_LAST_ENDPOINT, capacity: 1024), !text.isEmpty else { return nil }
        return text
    }

    /// The events the socket is ready for now (`ZMQ_EVENTS`). Reading it also
    /// lets libzmq process pending commands, as libzmq's edge-triggered `ZMQ_FD` requires.
    public var events: Events {
        get throws {
            var value: Int32 = 0
            var size = MemoryLayout<Int32>.size
            try ZeroMQCall.int("zmq_getsockopt") { zmq_getsockopt(handle, ZMQ_EVENTS, &value, &size) }
            return Events(rawValue: Int16(truncatingIfNeeded: value))
        }
    }

    // MARK: Options

    /// Sets a socket option.
    ///
    /// ```swift
    /// try router.set(.routerMandatory, true)
    /// try router.set(.sendHighWaterMark, 10_000)
    /// ```
    public func set<Value>(_ option: Option<Value>, _ value: Value) throws {
        try option.setter(handle, option.name, value)
    }

    /// Reads a socket option. Write-only options (``Option/routerMandatory``,
    /// ``Option/connectRoutingID``) throw ``ZeroMQError/Code/invalid``.
    public func get<Value>(_ option: Option<Value>) throws -> Value {
        try option.getter(handle, option.name)
    }

    func getString(_ name: Int32, capacity: Int) throws(ZeroMQError) -> String {
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        try ZeroMQCall.int("zmq_getsockopt") { zmq_getsockopt(handle, name, &buffer, &size) }
        let bytes = buffer.prefix(size).prefix { $0 != 0 }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// What a reactor needs to know of a socket's use to skip asking libzmq
/// what the socket is ready for (`ZMQ_EVENTS`, a system call) when nothing
/// can have changed it.
///
/// libzmq's `ZMQ_FD` signals when commands reach the socket after libzmq
/// last processed them; only a call into libzmq on the socket (a send, a
/// receive, an option) changes its readiness otherwise. So a socket used
/// for no call since the reactor last read its `ZMQ_EVENTS` is still as it
/// was then, unless its descriptor signals; and a receive that found nothing
/// (libzmq processed the commands first) says, until the next call, that
/// nothing can be received.
///
/// Touched only by the thread that uses the socket (for a socket with a
/// reactor, the reactor's thread), like the socket itself.
final class SocketActivity: @unchecked Sendable {
    /// Calls into libzmq on the socket so far.
    var operations: UInt64 = 0
    /// `operations` when a nonblocking receive last found no message.
    var receivedNothingAt: UInt64 = .max
    /// `operations` when the reactor last read `ZMQ_EVENTS`, and what it read.
    var checkedAt: UInt64 = .max
    var checkedEvents: Int16 = 0
    /// The socket's `ZMQ_FD`, once asked for (-1 before): see ``descriptor(of:)``.
    private var cachedDescriptor: Int32 = -1

    /// The socket `handle`'s (this activity's) `ZMQ_FD`, asked of libzmq
    /// once; nil when libzmq fails. Not counted as a call: reading it
    /// processes no command.
    func descriptor(of handle: UnsafeMutableRawPointer) -> Int32? {
        if cachedDescriptor < 0 {
            var descriptor: Int32 = -1
            var size = MemoryLayout<Int32>.size
            guard zmq_getsockopt(handle, ZMQ_FD, &descriptor, &size) == 0 else { return nil }
            cachedDescriptor = descriptor
        }
        return cachedDescriptor
    }

    /// What the socket `handle` (this activity's) is ready for
    /// (`ZMQ_EVENTS`), asked by its reactor and kept with the count of calls
    /// it was asked at; nil when libzmq fails. Not counted as a call: it
    /// changes nothing a caller of the socket would see. But libzmq
    /// processes the socket's commands first, which takes the signal off its
    /// descriptor: a message that came with it is known from here only
    /// (see ``ZeroMQSocket/tryReceiveIfSignalled()``).
    func readEvents(of handle: UnsafeMutableRawPointer) -> Int16? {
        var events: Int32 = 0
        var size = MemoryLayout<Int32>.size
        guard zmq_getsockopt(handle, ZMQ_EVENTS, &events, &size) == 0 else { return nil }
        checkedAt = operations
        checkedEvents = Int16(truncatingIfNeeded: events)
        return checkedEvents
    }

    /// Whether nothing can be received on the socket now without asking
    /// libzmq: its last call was a receive that found nothing, no readiness
    /// read since found a message, and its descriptor (``descriptor(of:)``)
    /// does not signal. See ``ZeroMQSocket/tryReceiveIfSignalled()``.
    func nothingToReceive(descriptor: Int32) -> Bool {
        operations == receivedNothingAt
            && (checkedAt != operations || checkedEvents & Int16(ZMQ_POLLIN) == 0)
            && cort_fd_readable_now(descriptor) == 0
    }
}
