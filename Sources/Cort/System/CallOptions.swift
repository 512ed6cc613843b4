/// Per-call settings: the deadline, whether the call may be repeated, and
/// metadata sent with it.
///
/// Set them for the calls made inside a scope, or as the defaults of a proxy:
///
/// ```swift
/// let greeting = try await withCallOptions(timeout: .milliseconds(200)) {
///     try await greeter.hello(name: "Ada")
/// }
/// let patient = try Greeter.service(in: system, options: CallOptions(timeout: .seconds(30)))
/// ```
///
/// A call takes the scope's settings first, then its proxy's, then the
/// system's (``CortSystem/Configuration/defaultTimeout``); metadata of both
/// is sent, the scope's value winning for a key set in both. A call made
/// while serving another gets at most what is left of that call's time.
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

    /// These options, with `defaults` where these set nothing: the timeout
    /// if these have none, idempotent if either is, the metadata of both
    /// (these win for a key in both).
    public func merged(over defaults: CallOptions) -> CallOptions {
        CallOptions(timeout: timeout ?? defaults.timeout, idempotent: idempotent || defaults.idempotent,
                    metadata: defaults.metadata.merging(metadata) { _, scoped in scoped })
    }
}

/// Runs `body` with these settings for the remote calls it makes, on top of
/// those of the enclosing scope (a timeout given here replaces the scope's;
/// metadata is added to the scope's).
///
/// ```swift
/// let greeting = try await withCallOptions(timeout: .milliseconds(200), metadata: ["tenant": "acme"]) {
///     try await greeter.hello(name: "Ada")
/// }
/// ```
public func withCallOptions<Result>(
    timeout: Duration? = nil,
    idempotent: Bool = false,
    metadata: [String: String] = [:],
    isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws -> Result
) async rethrows -> Result {
    let options = CallOptions(timeout: timeout, idempotent: idempotent, metadata: metadata)
        .merged(over: CallOptions.current)
    return try await CallOptions.$current.withValue(options, operation: body, isolation: isolation)
}
