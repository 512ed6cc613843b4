internal import CZeroMQ

extension ZeroMQSocket {
    /// Receives the next whole message, suspending (not blocking) until one arrives.
    ///
    /// Call it from an actor whose executor is this socket's ``reactor``. It first
    /// tries a nonblocking receive and suspends only when nothing is queued, so
    /// `while true { let m = try await socket.receive() }` drains every message
    /// that a single wake-up made available.
    ///
    /// - Throws: ``ZeroMQError/Code/notAttached`` without a reactor,
    ///   ``ZeroMQError/Code/wrongThread`` off the reactor thread,
    ///   ``ZeroMQError/Code/reactorShutDown`` when the reactor shuts down,
    ///   `CancellationError` if the task is cancelled while waiting, or libzmq's error.
    public func receive(isolation: isolated (any Actor)? = #isolation) async throws -> ZeroMQMessage {
        _ = try attachedReactor()
        if let message = try tryReceive() { return message }
        return try await receiveAfterEmptyTry(isolation: isolation)
    }

    /// As ``receive(isolation:)``, for a caller whose ``tryReceive()`` just
    /// found nothing: it waits first, rather than ask again at once (a
    /// receive that finds nothing costs libzmq system calls).
    package func receiveAfterEmptyTry(isolation: isolated (any Actor)? = #isolation) async throws -> ZeroMQMessage {
        let reactor = try attachedReactor()
        while true {
            try await reactor.wait(for: self, events: Int16(ZMQ_POLLIN), deadline: nil, isolation: isolation)
            if let message = try tryReceive() { return message }
        }
    }

    /// Sends `message`, suspending (not blocking) while the socket cannot take it.
    ///
    /// A full pipe is backpressure: the task waits until libzmq reports the socket
    /// writable and then sends; the message is never dropped for being early.
    /// Call it from an actor whose executor is this socket's ``reactor``.
    ///
    /// A ROUTER reports "writable" when *any* peer has room, so a send to one full
    /// peer can still fail after a wake-up; then the task retries on a short
    /// backoff timer (1 ms doubling to 32 ms) instead of spinning on a readiness
    /// that does not concern it.
    ///
    /// - Throws: as ``receive(isolation:)``; the message is not sent then. Use
    ///   `trySend(_:)` with an `inout` message to keep a message on errors.
    public func send(_ message: consuming ZeroMQMessage, isolation: isolated (any Actor)? = #isolation) async throws {
        let reactor = try attachedReactor()
        var backoff: Duration?
        while true {
            if try trySend(&message) { return }
            if let delay = backoff {
                try await reactor.wait(for: self, events: 0, deadline: .now + delay, isolation: isolation)
                backoff = min(delay * 2, .milliseconds(32))
            } else {
                try await reactor.wait(for: self, events: Int16(ZMQ_POLLOUT), deadline: nil, isolation: isolation)
                backoff = .milliseconds(1)
            }
        }
    }

    /// Receives the next whole message, suspending (not blocking) until one
    /// arrives, for an owner that does *not* run on the socket's reactor: an
    /// actor on the global pool, which then sends from its callers' own
    /// threads, with no hop to the reactor and no wake-up of it.
    ///
    /// The reactor polls only the socket's descriptor (`ZMQ_FD`) and never
    /// calls libzmq on the socket, so the owner keeps it to itself. The
    /// descriptor signals only when libzmq has commands for the socket that
    /// no call has processed yet, and a send may process them: after its own
    /// sends, while a receive waits, the owner must ask ``readiness()`` and
    /// take what is readable itself (``tryReceive()``), or that waits for the
    /// next signal.
    ///
    /// - Throws: ``ZeroMQError/Code/notAttached`` without a reactor,
    ///   ``ZeroMQError/Code/reactorShutDown`` when the reactor shuts down,
    ///   `CancellationError` if the task is cancelled while waiting, or libzmq's error.
    public func receiveOffReactor(isolation: isolated (any Actor)? = #isolation) async throws -> ZeroMQMessage {
        guard let reactor else {
            throw ZeroMQError(.notAttached, "async socket operations need a socket created with a reactor")
        }
        let descriptor = try get(.descriptor)
        while true {
            if let message = try tryReceive() { return message }
            try await reactor.waitUntilReadable(descriptor, isolation: isolation)
        }
    }

    private func attachedReactor() throws(ZeroMQError) -> ZeroMQReactor {
        guard let reactor else {
            throw ZeroMQError(.notAttached, "async socket operations need a socket created with a reactor")
        }
        guard reactor.isOnReactorThread else {
            throw ZeroMQError(.wrongThread, "async socket operations must run on the socket's reactor (an actor whose unownedExecutor is the reactor)")
        }
        return reactor
    }
}
