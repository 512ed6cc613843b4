/// One remote call as it travels from caller to node (the envelope kind `request`).
///
/// ```swift
/// let request = CallRequest(
///     id: 7, service: "greeter", actor: nil,
///     target: "$s3das7GreeterC5hello4name5timesS2S_SitYaKFTE",
///     method: "Greeter.hello(name:times:)", timeout: .seconds(2),
///     flags: [.idempotent], metadata: ["traceparent": "00-…"],
///     arguments: [encodedName, encodedTimes])
/// ```
package struct CallRequest: Sendable, Equatable {
    /// The call id, chosen by the caller and unique per caller socket.
    package var id: UInt64
    /// The hosted service's name (`greeter`).
    package var service: String
    /// A specific actor instance on the node, or nil for any replica of the service.
    package var actor: String?
    /// The distributed target's identifier (Swift's mangled name).
    package var target: String
    /// A readable name for logs and metrics (`Greeter.hello(name:)`).
    package var method: String
    /// Time left to the caller's deadline when the request was sent. It travels
    /// as whole nanoseconds: negative durations are sent as zero, sub-nanosecond
    /// parts are dropped, and durations beyond `UInt64.max` ns are clamped.
    package var timeout: Duration
    /// Per-call options.
    package var flags: CallFlags
    /// Trace context (`traceparent`, `tracestate`) and other call metadata.
    package var metadata: [String: String]
    /// Each argument, MessagePack-encoded, in order.
    package var arguments: [[UInt8]]

    package init(
        id: UInt64, service: String, actor: String? = nil, target: String, method: String,
        timeout: Duration, flags: CallFlags = [], metadata: [String: String] = [:],
        arguments: [[UInt8]] = []
    ) {
        self.id = id
        self.service = service
        self.actor = actor
        self.target = target
        self.method = method
        self.timeout = timeout
        self.flags = flags
        self.metadata = metadata
        self.arguments = arguments
    }
}
