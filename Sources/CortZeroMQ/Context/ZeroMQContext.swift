internal import CZeroMQ

/// A libzmq context: the I/O threads and the inproc namespace that sockets share.
///
/// libzmq contexts are thread-safe, so this class is `Sendable`.
///
/// Lifetime, and why nothing here hangs forever:
/// - Every ``ZeroMQSocket`` holds a strong reference to its context, so the
///   context is terminated (`zmq_ctx_term`) only when the last socket and the
///   last user reference are gone. By then every socket is closed, and since a
///   socket's linger is a finite `Duration` (this library never sets libzmq's
///   "linger forever"), `zmq_ctx_term` returns within the longest linger. It
///   runs on a detached thread, so the deinit itself never waits.
/// - ``shutdown()`` does not wait: it makes every blocking call on this
///   context's sockets return ``ZeroMQError/Code/terminated`` and refuses new
///   sockets; the sockets still close normally when they go away.
///
/// ```swift
/// let context = try ZeroMQContext(ioThreads: 1)
/// let socket = try ZeroMQSocket(.dealer, context: context)
/// try socket.connect("tcp://127.0.0.1:5555")
/// ```
public final class ZeroMQContext: Sendable {
    // The handle is a `let` used only through libzmq's thread-safe context API
    // (zmq_socket, zmq_ctx_shutdown, zmq_ctx_term), so sharing it is safe.
    nonisolated(unsafe) let handle: UnsafeMutableRawPointer

    /// Creates a context with `ioThreads` background I/O threads (libzmq's `ZMQ_IO_THREADS`).
    ///
    /// - Throws: ``ZeroMQError`` if libzmq cannot create the context or rejects the thread count.
    public init(ioThreads: Int = 1) throws {
        let handle = try ZeroMQCall.pointer("zmq_ctx_new") { zmq_ctx_new() }
        do {
            try ZeroMQCall.int("zmq_ctx_set") { zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(clamping: ioThreads)) }
        } catch {
            _ = zmq_ctx_term(handle)
            throw error
        }
        self.handle = handle
    }

    /// Makes blocking calls on this context's sockets fail with ``ZeroMQError/Code/terminated``
    /// and new sockets fail to open. Returns at once; idempotent.
    public func shutdown() {
        _ = zmq_ctx_shutdown(handle)
    }

    deinit {
        // Reached only once every socket is closed (they retain us), so
        // termination waits at most for the longest finite linger of those
        // sockets, on a thread of its own: a deinit may run on one of Swift's
        // cooperative threads, and a node's 2 s linger must not hold it.
        cort_ctx_term_detached(handle)
    }
}
