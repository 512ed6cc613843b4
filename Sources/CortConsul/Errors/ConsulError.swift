/// An error from the Consul client: the transport, the agent's answer, or the configuration.
///
/// The ``code`` says what kind of failure it is; ``status`` and ``consulMessage`` carry what
/// the agent answered when it answered; ``cause`` is the underlying error when there is one.
///
/// ```swift
/// do {
///     try await client.passTTL(checkID: "service:greeter-7f3a")
/// } catch let error where error.requiresRegistration {
///     // The agent forgot us (it restarted): register again, then pass.
///     try await client.register(registration)
///     try await client.passTTL(checkID: "service:greeter-7f3a")
/// }
/// ```
public struct ConsulError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a matchable value. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case transport, timeout, httpStatus, decoding, bodyTooLarge, configuration
            case invalidArgument, cancelled, shutDown
        }

        private let base: Base

        private init(_ base: Base) { self.base = base }

        /// The agent could not be reached or the connection failed (refused, reset, TLS, DNS, ...).
        public static let transport = Code(.transport)
        /// No complete answer before the request's timeout.
        public static let timeout = Code(.timeout)
        /// The agent answered with a status other than 200; see ``ConsulError/status`` and
        /// ``ConsulError/consulMessage``.
        public static let httpStatus = Code(.httpStatus)
        /// A 200 answer whose body or headers are not what the API promises (invalid JSON,
        /// wrong shape, an HTML page, a missing `X-Consul-Index`).
        public static let decoding = Code(.decoding)
        /// The answer's body is larger than ``ConsulConfiguration/maxResponseBodySize``.
        public static let bodyTooLarge = Code(.bodyTooLarge)
        /// A configuration value (in code or in the environment) is invalid.
        public static let configuration = Code(.configuration)
        /// An argument the client refuses before sending anything (e.g. an empty service name).
        public static let invalidArgument = Code(.invalidArgument)
        /// The calling task was cancelled; the request was abandoned.
        public static let cancelled = Code(.cancelled)
        /// The client was shut down before or while the request ran.
        public static let shutDown = Code(.shutDown)

        /// A short name for the code, e.g. `httpStatus`.
        public var description: String { String(describing: base) }
    }

    /// What went wrong.
    public var code: Code
    /// A human-readable explanation, naming the request where there is one.
    public var message: String
    /// The HTTP status of the agent's answer, when there was an answer.
    public var status: Int?
    /// The agent's own explanation (its plain-text error body, trimmed and shortened), when
    /// it gave one.
    public var consulMessage: String?
    /// The underlying error, when there is one (e.g. a `DecodingError`).
    public var cause: (any Error & Sendable)?

    /// An error with a code and a message, and optionally the answer's status, Consul's
    /// message and the underlying cause.
    public init(
        _ code: Code,
        _ message: String,
        status: Int? = nil,
        consulMessage: String? = nil,
        cause: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.status = status
        self.consulMessage = consulMessage
        self.cause = cause
    }

    /// Whether the agent no longer knows the service or check, so the caller should register
    /// again: a 404 from a check or deregister call, or the 500 that older agents (and
    /// non-TTL checks) give with "does not have associated TTL" or "Unknown check".
    public var requiresRegistration: Bool {
        guard code == .httpStatus, let status else { return false }
        if status == 404 { return true }
        guard status == 500, let consulMessage else { return false }
        return consulMessage.contains("does not have associated TTL")
            || consulMessage.contains("Unknown check")
            || consulMessage.contains("Unknown service")
    }

    /// Whether the agent refused the request's credentials: a 401 or 403 (`Permission denied`,
    /// `ACL not found`). Retrying helps only once someone fixes the token or its policy.
    public var isAuthorizationFailure: Bool {
        code == .httpStatus && (status == 401 || status == 403)
    }

    /// Whether trying again later may succeed: transport failures, timeouts, 429 and 5xx
    /// answers. A 4xx (other than 429) or a decoding failure will fail the same way again.
    public var isTransient: Bool {
        switch code {
        case .transport, .timeout: return true
        case .httpStatus: return status.map { $0 == 429 || $0 >= 500 } ?? false
        default: return false
        }
    }

    /// `code: message`, with the status and Consul's message when there are some.
    public var description: String {
        var text = "ConsulError.\(code): \(message)"
        if let consulMessage, !message.contains(consulMessage) { text += " (Consul: \(consulMessage))" }
        if let cause { text += " [cause: \(cause)]" }
        return text
    }
}
