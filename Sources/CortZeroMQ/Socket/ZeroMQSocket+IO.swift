internal import CZeroMQ

extension ZeroMQSocket {
    // MARK: Nonblocking

    /// Sends `message` if the socket can take it now; leaves it in place if not.
    ///
    /// - Returns: `true` if sent (`message` is then empty); `false` if the send would
    ///   block (a full pipe: backpressure), with `message` untouched.
    /// - Throws: ``ZeroMQError``, e.g. ``ZeroMQError/Code/hostUnreachable`` from a ROUTER
    ///   with ``Option/routerMandatory`` and an unknown peer. `message` is untouched then too,
    ///   so nothing is lost: the caller decides what to do with it.
    ///
    /// libzmq queues a multipart message atomically: only its first frame can be
    /// refused, the others are then always accepted. If libzmq still fails after
    /// the first frame (only when the context is terminated), the partly sent
    /// message is discarded and the error thrown.
    public func trySend(_ message: inout ZeroMQMessage) throws -> Bool {
        try sendFrames(&message, flags: ZMQ_DONTWAIT)
    }

    /// Sends `message` if the socket can take it now; gives it back if not.
    ///
    /// - Returns: `nil` if sent; the same message, intact, if the send would block.
    /// - Throws: ``ZeroMQError``; the message is dropped then. Use `trySend(_:)` with an `inout` message
    ///   to keep it on errors such as ``ZeroMQError/Code/hostUnreachable``.
    public func trySend(_ message: consuming ZeroMQMessage) throws -> ZeroMQMessage? {
        if try sendFrames(&message, flags: ZMQ_DONTWAIT) { return nil }
        return message
    }

    /// Receives a whole multipart message if one is queued.
    ///
    /// - Returns: the message, or `nil` if none is queued (`EAGAIN`). Allocates nothing then.
    public func tryReceive() throws -> ZeroMQMessage? {
        try receiveFrames(flags: ZMQ_DONTWAIT)
    }

    /// ``tryReceive()`` for a socket that is mostly empty, checked often:
    /// when the last call on the socket was a receive that found nothing,
    /// it asks libzmq only if the socket's descriptor (`ZMQ_FD`) signals.
    ///
    /// libzmq queues a message for a socket whose receive found nothing
    /// only together with a command to it, and a command to a socket whose
    /// commands were all processed always signals its descriptor (see
    /// ``SocketActivity``). Only the socket's reactor, reading what the
    /// socket is ready for, processes commands without a call counted as
    /// one; it keeps what it found, and a message it found is received the
    /// usual way. So otherwise an unsignalled descriptor means nothing can
    /// be received, exactly as a receive would have said. Telling it costs
    /// one `poll(2)`; a receive that finds nothing costs libzmq's check of
    /// its commands (`getpid(2)` and `poll(2)`) and its own bookkeeping,
    /// about 600 instructions.
    ///
    /// - Returns: the message, or `nil` if none is queued.
    public func tryReceiveIfSignalled() throws -> ZeroMQMessage? {
        // Not through `handle`: reading ZMQ_FD is not a call on the socket.
        // Without a descriptor, libzmq is asked.
        if let descriptor = activity.descriptor(of: rawHandle), activity.nothingToReceive(descriptor: descriptor) {
            return nil
        }
        return try tryReceive()
    }

    /// What the socket is ready for now (libzmq's `ZMQ_EVENTS`): whether a
    /// message can be received, whether one can be sent. Asking processes
    /// the commands libzmq has for the socket, as a send or a receive does.
    public func readiness() throws -> Events {
        Events(rawValue: Int16(truncatingIfNeeded: try get(.events)))
    }

    // MARK: Blocking (plain threads only)

    /// Sends `message`, blocking the calling thread while the pipe is full (up to
    /// ``Option/sendTimeout``, then ``ZeroMQError/Code/wouldBlock``).
    ///
    /// Only for threads you own: never call it from Swift's cooperative pool.
    public func blockingSend(_ message: consuming ZeroMQMessage) throws {
        guard try sendFrames(&message, flags: 0) else {
            throw ZeroMQError(.wouldBlock, "zmq_msg_send: send timeout expired")
        }
    }

    /// Receives a whole multipart message, blocking the calling thread until one
    /// arrives (up to ``Option/receiveTimeout``, then ``ZeroMQError/Code/wouldBlock``).
    ///
    /// Only for threads you own: never call it from Swift's cooperative pool.
    public func blockingReceive() throws -> ZeroMQMessage {
        guard let message = try receiveFrames(flags: 0) else {
            throw ZeroMQError(.wouldBlock, "zmq_msg_recv: receive timeout expired")
        }
        return message
    }

    /// Waits up to `timeout` for any of `events`, blocking the calling thread, and returns
    /// the events that are ready (empty on timeout).
    ///
    /// Only for threads you own (or tests waiting with a deadline): never call it
    /// from Swift's cooperative pool in production code.
    public func poll(_ events: Events, timeout: Duration) throws -> Events {
        var item = zmq_pollitem_t(socket: handle, fd: 0, events: events.rawValue, revents: 0)
        let milliseconds = CLong(clamping: timeout.wholeMilliseconds)
        try ZeroMQCall.int("zmq_poll") { zmq_poll(&item, 1, milliseconds) }
        return Events(rawValue: item.revents).intersection(events)
    }

    // MARK: Frames

    private func sendFrames(_ message: inout ZeroMQMessage, flags: Int32) throws(ZeroMQError) -> Bool {
        let frameCount = message.count
        guard frameCount > 0 else {
            throw ZeroMQError(.invalid, "cannot send a message with no frames")
        }
        for index in 0..<frameCount {
            let more = index < frameCount - 1 ? ZMQ_SNDMORE : 0
            let sent: Int32?
            do {
                let frame = message.pointer(at: index)
                sent = try ZeroMQCall.nonblocking("zmq_msg_send") { zmq_msg_send(frame, handle, flags | more) }
            } catch {
                if index > 0 { message.removeAll() }
                throw error
            }
            if sent == nil {
                if index == 0 { return false }
                message.removeAll()
                throw ZeroMQError(.internalError, "libzmq refused frame \(index) of a multipart message after taking the first")
            }
        }
        // libzmq took every frame and left each zmq_msg_t empty.
        message.removeAll()
        return true
    }

    private func receiveFrames(flags: Int32) throws(ZeroMQError) -> ZeroMQMessage? {
        // Receive the first frame on the stack so that EAGAIN, the common case at
        // the end of every drain, allocates nothing.
        var first = zmq_msg_t()
        zmq_msg_init(&first)
        let received: Int32?
        do {
            received = try ZeroMQCall.nonblocking("zmq_msg_recv") { zmq_msg_recv(&first, handle, flags) }
        } catch {
            zmq_msg_close(&first)
            throw error
        }
        guard received != nil else {
            zmq_msg_close(&first)
            // libzmq processed the socket's commands before saying so: until
            // the next call, its reactor need not ask (see SocketActivity).
            activity.receivedNothingAt = activity.operations
            return nil
        }
        var message = ZeroMQMessage(frameCapacity: 4)
        message.appendMoving(&first)
        // The rest of a multipart message is already queued (libzmq delivers
        // messages atomically), so the loop never waits.
        while zmq_msg_more(message.pointer(at: message.count - 1)) != 0 {
            let frame = message.appendEmptyFrame()
            let more = try ZeroMQCall.nonblocking("zmq_msg_recv") { zmq_msg_recv(frame, handle, ZMQ_DONTWAIT) }
            if more == nil {
                throw ZeroMQError(.internalError, "libzmq had no frame \(message.count - 1) of a multipart message")
            }
        }
        return message
    }
}
