internal import CZeroMQ

extension ZeroMQSocket {
    /// A typed socket option: the libzmq option name and how its value is encoded.
    ///
    /// ```swift
    /// try socket.set(.routingID, Array("node-1".utf8))
    /// try socket.set(.heartbeatInterval, .seconds(1))
    /// let hwm = try socket.get(.sendHighWaterMark)  // Int32
    /// ```
    public struct Option<Value>: Sendable {
        let name: Int32
        let setter: @Sendable (UnsafeMutableRawPointer, Int32, Value) throws(ZeroMQError) -> Void
        let getter: @Sendable (UnsafeMutableRawPointer, Int32) throws(ZeroMQError) -> Value
    }
}

// MARK: Encodings

extension ZeroMQSocket.Option {
    fileprivate static func setBytes(_ handle: UnsafeMutableRawPointer, _ name: Int32, _ bytes: [UInt8]) throws(ZeroMQError) {
        try ZeroMQCall.int("zmq_setsockopt") {
            bytes.withUnsafeBytes { zmq_setsockopt(handle, name, $0.baseAddress, $0.count) }
        }
    }

    fileprivate static func getInt32(_ handle: UnsafeMutableRawPointer, _ name: Int32) throws(ZeroMQError) -> Int32 {
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        try ZeroMQCall.int("zmq_getsockopt") { zmq_getsockopt(handle, name, &value, &size) }
        return value
    }

    fileprivate static func setInt32(_ handle: UnsafeMutableRawPointer, _ name: Int32, _ value: Int32) throws(ZeroMQError) {
        var value = value
        try ZeroMQCall.int("zmq_setsockopt") { zmq_setsockopt(handle, name, &value, MemoryLayout<Int32>.size) }
    }

    fileprivate static func getBytes(_ handle: UnsafeMutableRawPointer, _ name: Int32, capacity: Int) throws(ZeroMQError) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: capacity)
        var size = capacity
        try ZeroMQCall.int("zmq_getsockopt") { zmq_getsockopt(handle, name, &buffer, &size) }
        return Array(buffer.prefix(size))
    }

    fileprivate static func writeOnly(_ handle: UnsafeMutableRawPointer, _ name: Int32) throws(ZeroMQError) -> Value {
        throw ZeroMQError(.invalid, "socket option \(name) is write-only in libzmq")
    }
}

extension ZeroMQSocket.Option where Value == Int32 {
    fileprivate static func int32(_ name: Int32) -> Self {
        Self(name: name, setter: { handle, name, value throws(ZeroMQError) in try setInt32(handle, name, value) },
             getter: { handle, name throws(ZeroMQError) in try getInt32(handle, name) })
    }

    /// A read-only option: setting it fails with ``ZeroMQError/Code/invalid``.
    fileprivate static func readOnlyInt32(_ name: Int32) -> Self {
        Self(name: name, setter: { _, name, _ throws(ZeroMQError) in
                 throw ZeroMQError(.invalid, "socket option \(name) is read-only in libzmq")
             },
             getter: { handle, name throws(ZeroMQError) in try getInt32(handle, name) })
    }

    /// The descriptor that signals when libzmq has commands for the socket
    /// (`ZMQ_FD`, read-only): edge-triggered, see ``ZeroMQSocket/receiveOffReactor(isolation:)``.
    public static var descriptor: Self { .readOnlyInt32(ZMQ_FD) }
    /// What the socket is ready for now (`ZMQ_EVENTS`, read-only; `ZMQ_POLLIN`,
    /// `ZMQ_POLLOUT`): ``ZeroMQSocket/readiness()`` reads it as ``ZeroMQSocket/Events``.
    public static var events: Self { .readOnlyInt32(ZMQ_EVENTS) }
    /// Messages queued per outgoing peer before sends block (`ZMQ_SNDHWM`, 0 = unlimited).
    public static var sendHighWaterMark: Self { .int32(ZMQ_SNDHWM) }
    /// Messages queued per incoming peer before libzmq stops reading (`ZMQ_RCVHWM`, 0 = unlimited).
    public static var receiveHighWaterMark: Self { .int32(ZMQ_RCVHWM) }
    /// The kernel's send buffer of each connection made after it is set
    /// (`ZMQ_SNDBUF`, bytes; -1 or 0 = the kernel sizes it).
    public static var sendBuffer: Self { .int32(ZMQ_SNDBUF) }
}

extension ZeroMQSocket.Option where Value == Int64 {
    /// The largest inbound message accepted (`ZMQ_MAXMSGSIZE`, bytes, -1 = unlimited).
    /// A peer that sends a larger one is disconnected.
    public static var maxMessageSize: Self {
        Self(name: ZMQ_MAXMSGSIZE,
             setter: { handle, name, value throws(ZeroMQError) in
                 var value = value
                 try ZeroMQCall.int("zmq_setsockopt") { zmq_setsockopt(handle, name, &value, MemoryLayout<Int64>.size) }
             },
             getter: { handle, name throws(ZeroMQError) in
                 var value: Int64 = 0
                 var size = MemoryLayout<Int64>.size
                 try ZeroMQCall.int("zmq_getsockopt") { zmq_getsockopt(handle, name, &value, &size) }
                 return value
             })
    }
}

extension ZeroMQSocket.Option where Value == Bool {
    fileprivate static func bool(_ name: Int32, readable: Bool = true) -> Self {
        Self(name: name, setter: { handle, name, value throws(ZeroMQError) in try setInt32(handle, name, value ? 1 : 0) },
             getter: { handle, name throws(ZeroMQError) in
                 guard readable else { return try writeOnly(handle, name) }
                 return try getInt32(handle, name) != 0
             })
    }

    /// A ROUTER fails sends to unknown peers with ``ZeroMQError/Code/hostUnreachable`` and
    /// full peers with ``ZeroMQError/Code/wouldBlock`` instead of dropping them
    /// (`ZMQ_ROUTER_MANDATORY`). Write-only.
    public static var routerMandatory: Self { .bool(ZMQ_ROUTER_MANDATORY, readable: false) }
    /// Queue messages only to completed connections (`ZMQ_IMMEDIATE`).
    public static var immediate: Self { .bool(ZMQ_IMMEDIATE) }
    /// Act as a CURVE server (`ZMQ_CURVE_SERVER`); needs ``curveSecretKey``.
    public static var curveServer: Self { .bool(ZMQ_CURVE_SERVER) }
    /// A ROUTER gives a peer's routing id to its newest connection
    /// (`ZMQ_ROUTER_HANDOVER`) and closes the connection that held it;
    /// without it, a connection that presents a routing id still held by
    /// another is never read. A peer that reconnects after a network
    /// partition needs it: the old connection stays open on this side
    /// until TCP gives up on it. Write-only.
    public static var routerHandover: Self { .bool(ZMQ_ROUTER_HANDOVER, readable: false) }
}

extension ZeroMQSocket.Option where Value == [UInt8] {
    /// This socket's identity as its peers' ROUTERs see it (`ZMQ_ROUTING_ID`, 1–255 bytes,
    /// not starting with a zero byte). Set before connecting or binding.
    public static var routingID: Self {
        Self(name: ZMQ_ROUTING_ID,
             setter: { handle, name, value throws(ZeroMQError) in try setBytes(handle, name, value) },
             getter: { handle, name throws(ZeroMQError) in try getBytes(handle, name, capacity: 256) })
    }

    /// The routing id a ROUTER gives the peer of its next ``ZeroMQSocket/connect(_:)``
    /// (`ZMQ_CONNECT_ROUTING_ID`). Write-only.
    public static var connectRoutingID: Self {
        Self(name: ZMQ_CONNECT_ROUTING_ID,
             setter: { handle, name, value throws(ZeroMQError) in try setBytes(handle, name, value) },
             getter: { handle, name throws(ZeroMQError) in try writeOnly(handle, name) })
    }
}

extension ZeroMQSocket.Option where Value == Duration {
    fileprivate static func milliseconds(_ name: Int32) -> Self {
        Self(name: name,
             setter: { handle, name, value throws(ZeroMQError) in try setInt32(handle, name, Int32(clamping: value.wholeMilliseconds)) },
             getter: { handle, name throws(ZeroMQError) in .milliseconds(try getInt32(handle, name)) })
    }

    /// How long unsent messages are kept when the socket closes (`ZMQ_LINGER`).
    /// Negative durations mean zero: this library never lingers forever.
    public static var linger: Self { .milliseconds(ZMQ_LINGER) }
    /// How often to send ZMTP heartbeat PINGs (`ZMQ_HEARTBEAT_IVL`, zero = off).
    public static var heartbeatInterval: Self { .milliseconds(ZMQ_HEARTBEAT_IVL) }
    /// How long to wait for any traffic after a PING before dropping the connection
    /// (`ZMQ_HEARTBEAT_TIMEOUT`).
    public static var heartbeatTimeout: Self { .milliseconds(ZMQ_HEARTBEAT_TIMEOUT) }
    /// How long the peer should keep the connection without traffic
    /// (`ZMQ_HEARTBEAT_TTL`; libzmq keeps tenths of a second, up to 6553.5 s).
    public static var heartbeatTTL: Self { .milliseconds(ZMQ_HEARTBEAT_TTL) }
}

extension ZeroMQSocket.Option where Value == Duration? {
    fileprivate static func optionalMilliseconds(_ name: Int32) -> Self {
        Self(name: name,
             setter: { handle, name, value throws(ZeroMQError) in
                 try setInt32(handle, name, value.map { Int32(clamping: $0.wholeMilliseconds) } ?? -1)
             },
             getter: { handle, name throws(ZeroMQError) in
                 let value = try getInt32(handle, name)
                 return value < 0 ? nil : .milliseconds(value)
             })
    }

    /// How long ``ZeroMQSocket/blockingReceive()`` waits before failing with
    /// ``ZeroMQError/Code/wouldBlock`` (`ZMQ_RCVTIMEO`, `nil` = forever).
    public static var receiveTimeout: Self { .optionalMilliseconds(ZMQ_RCVTIMEO) }
    /// How long ``ZeroMQSocket/blockingSend(_:)`` waits before failing with
    /// ``ZeroMQError/Code/wouldBlock`` (`ZMQ_SNDTIMEO`, `nil` = forever).
    public static var sendTimeout: Self { .optionalMilliseconds(ZMQ_SNDTIMEO) }
    /// The delay before reconnecting a dropped connection (`ZMQ_RECONNECT_IVL`,
    /// `nil` = never reconnect).
    public static var reconnectInterval: Self { .optionalMilliseconds(ZMQ_RECONNECT_IVL) }
    /// How long a TCP connect may take before libzmq abandons it and tries
    /// again after ``reconnectInterval`` (`ZMQ_CONNECT_TIMEOUT`, `nil` or
    /// zero = the kernel's, which resends the SYN after 1, 3, 7, 15… s and
    /// gives up after about two minutes). Set before ``ZeroMQSocket/connect(_:)``.
    public static var connectTimeout: Self {
        Self(name: ZMQ_CONNECT_TIMEOUT,
             setter: { handle, name, value throws(ZeroMQError) in
                 try setInt32(handle, name, value.map { Int32(clamping: $0.wholeMilliseconds) } ?? 0)
             },
             getter: { handle, name throws(ZeroMQError) in
                 let value = try getInt32(handle, name)
                 return value <= 0 ? nil : .milliseconds(value)
             })
    }
}

extension ZeroMQSocket.Option where Value == CurveKey {
    fileprivate static func curveKey(_ name: Int32) -> Self {
        Self(name: name,
             setter: { handle, name, value throws(ZeroMQError) in
                 try setBytes(handle, name, value.rawBytes)
             },
             getter: { handle, name throws(ZeroMQError) in
                 try CurveKey(validatedRaw: getBytes(handle, name, capacity: 32))
             })
    }

    /// This socket's long-term public key (`ZMQ_CURVE_PUBLICKEY`), for a CURVE client.
    public static var curvePublicKey: Self { .curveKey(ZMQ_CURVE_PUBLICKEY) }
    /// This socket's long-term secret key (`ZMQ_CURVE_SECRETKEY`), for clients and servers.
    public static var curveSecretKey: Self { .curveKey(ZMQ_CURVE_SECRETKEY) }
    /// The server's public key a CURVE client expects (`ZMQ_CURVE_SERVERKEY`).
    public static var curveServerKey: Self { .curveKey(ZMQ_CURVE_SERVERKEY) }
}

extension ZeroMQSocket.Option where Value == String {
    /// The ZAP domain of a bound socket (`ZMQ_ZAP_DOMAIN`): with a security
    /// mechanism, libzmq asks the context's ZAP handler
    /// (`inproc://zeromq.zap.01`) about each connecting peer and names this
    /// domain in the request. Set before ``ZeroMQSocket/bind(_:)``.
    public static var zapDomain: Self {
        Self(name: ZMQ_ZAP_DOMAIN,
             setter: { handle, name, value throws(ZeroMQError) in try setBytes(handle, name, Array(value.utf8)) },
             getter: { handle, name throws(ZeroMQError) in
                 let bytes = try getBytes(handle, name, capacity: 256)
                 return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
             })
    }
}

extension Duration {
    /// Whole milliseconds, rounded toward zero, clamped to `0...Int64.max`.
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return .max }
        let (total, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        return overflow2 ? .max : total
    }
}
