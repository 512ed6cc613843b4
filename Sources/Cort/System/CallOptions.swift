/// Per-call settings: the deadline and whether the call may be repeated.
///
/// Set them for the calls made inside a scope:
///
/// ```swift
/// let greeting = try await CallOptions.$current.withValue(CallOptions(timeout: .milliseconds(200))) {
///     try await greeter.hello(name: "Ada")
/// }
/// ```
public struct CallOptions: Sendable, Hashable {
    /// How long the call may take, from the moment it is made; nil uses the
    /// system's default (`CortSystem.Configuration.defaultTimeout`).
    public var timeout: Duration?
    /// Whether running the call twice is harmless (used by failover).
    public var idempotent: Bool
    /// Extra metadata sent with the call (for example trace context).
    public var metadata: [String: String]

    /// Creates options.
    public init(timeout: Duration? = nil, idempotent: Bool = false, metadata: [String: String] = [:]) {
        self.timeout = timeout
        self.idempotent = idempotent
        self.metadata = metadata
    }

    /// The options in effect for calls made by the current task.
    @TaskLocal public static var current = CallOptions()
}
