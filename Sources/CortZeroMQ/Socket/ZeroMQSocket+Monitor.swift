internal import CZeroMQ

extension ZeroMQSocket {
    /// Connection events libzmq can report about a socket (`zmq_socket_monitor`).
    public struct MonitorEvents: OptionSet, Sendable, Hashable {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }

        /// A connect completed at the TCP level (`ZMQ_EVENT_CONNECTED`).
        public static let connected = MonitorEvents(rawValue: ZMQ_EVENT_CONNECTED)
        /// A bound socket accepted a connection (`ZMQ_EVENT_ACCEPTED`); the
        /// event's value is the connection's file descriptor.
        public static let accepted = MonitorEvents(rawValue: ZMQ_EVENT_ACCEPTED)
        /// An established connection was lost (`ZMQ_EVENT_DISCONNECTED`): the
        /// peer closed it or died, or its heartbeats timed out. Not reported for
        /// a `disconnect` of one's own. The event's value is the connection's
        /// file descriptor (see ``ZeroMQMessage/sourceDescriptor(at:)``).
        public static let disconnected = MonitorEvents(rawValue: ZMQ_EVENT_DISCONNECTED)
        /// An attempt to connect failed (refused, timed out, or the
        /// connection broke before or during its handshake) and libzmq will
        /// try again (`ZMQ_EVENT_CONNECT_RETRIED`); the event's value is the
        /// interval, in milliseconds, before the next attempt.
        public static let connectRetried = MonitorEvents(rawValue: ZMQ_EVENT_CONNECT_RETRIED)
        /// The ZMTP handshake with a peer completed (`ZMQ_EVENT_HANDSHAKE_SUCCEEDED`).
        public static let handshakeSucceeded = MonitorEvents(rawValue: ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
        /// A ZMTP handshake failed without a reason from the peer
        /// (`ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL`): the peer closed the
        /// connection during it, as a CURVE server does with a client that
        /// expects another server key, or a server of another mechanism.
        public static let handshakeFailedNoDetail = MonitorEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
        /// A ZMTP handshake broke the protocol (`ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL`);
        /// the event's value is libzmq's `ZMQ_PROTOCOL_ERROR_*` number.
        public static let handshakeFailedProtocol = MonitorEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        /// The peer's authentication was refused (`ZMQ_EVENT_HANDSHAKE_FAILED_AUTH`):
        /// on a server, its ZAP handler refused the client; on a client, the
        /// server said so. The event's value is the ZAP status code (400).
        public static let handshakeFailedAuth = MonitorEvents(rawValue: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        /// Every handshake failure.
        public static let handshakeFailed: MonitorEvents = [.handshakeFailedNoDetail, .handshakeFailedProtocol, .handshakeFailedAuth]
    }

    /// Asks libzmq to publish `events` of this socket on a PAIR socket bound
    /// at `endpoint` (an `inproc://` address unique in the context); connect
    /// a ``Kind/pair`` socket there and read each message with
    /// ``MonitorEvent/init(_:)``.
    ///
    /// ```swift
    /// try router.monitor("inproc://router-events", events: .disconnected)
    /// let events = try ZeroMQSocket(.pair, context: context, reactor: reactor)
    /// try events.connect("inproc://router-events")
    /// let event = try MonitorEvent(try await events.receive())
    /// ```
    public func monitor(_ endpoint: String, events: MonitorEvents) throws {
        try ZeroMQCall.int("zmq_socket_monitor") { zmq_socket_monitor(handle, endpoint, events.rawValue) }
    }

    /// Stops publishing events (and closes the monitor's PAIR end).
    public func stopMonitoring() throws {
        try ZeroMQCall.int("zmq_socket_monitor") { zmq_socket_monitor(handle, nil, 0) }
    }
}

/// One event read from a socket monitor: which event, and the endpoint it
/// concerns (libzmq's two-frame monitor message).
public struct MonitorEvent: Sendable, Hashable {
    /// The event (one of ``ZeroMQSocket/MonitorEvents``).
    public var event: ZeroMQSocket.MonitorEvents
    /// The event's value (a file descriptor, an errno, or an interval, by event).
    public var value: UInt32
    /// The endpoint of the connection, as libzmq names it (`tcp://127.0.0.1:5555`).
    public var endpoint: String

    /// Reads a monitor message; a message of another shape is an ``ZeroMQError/Code/invalid`` error.
    public init(_ message: borrowing ZeroMQMessage) throws {
        guard message.count == 2, message.frameSize(at: 0) == 6 else {
            throw ZeroMQError(.invalid, "a monitor event has two frames, the first of 6 bytes")
        }
        let (event, value) = message.withFrame(at: 0) { bytes in
            (bytes.loadUnaligned(as: UInt16.self), bytes.loadUnaligned(fromByteOffset: 2, as: UInt32.self))
        }
        self.event = ZeroMQSocket.MonitorEvents(rawValue: Int32(event))
        self.value = value
        self.endpoint = message.withFrame(at: 1) { String(decoding: $0, as: UTF8.self) }
    }
}
