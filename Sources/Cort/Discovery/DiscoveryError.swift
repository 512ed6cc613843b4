/// Why a discovery operation failed.
///
/// A `code` a program can switch on, a `message` for people, and the
/// underlying `cause` when there is one. Codes are structs over a private
/// enum so backends (Consul) can add their own without breaking callers.
///
/// ```swift
/// do {
///     let discovery = try StaticDiscovery(environmentVariable: "CORT_STATIC_SERVICES")
/// } catch let error as DiscoveryError where error.code == .malformedConfiguration {
///     print(error.message)   // "CORT_STATIC_SERVICES: entry 2 ("echo") has no '='"
/// }
/// ```
public struct DiscoveryError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: Hashable, Sendable {
            case invalidInstance
            case malformedConfiguration
            case unavailable
            case unauthorized
            case unsupported
        }

        let value: Value

        /// A service name, instance id or endpoint that breaks the rules of
        /// ``ServiceInstance`` (empty, whitespace, unknown transport, too long).
        public static let invalidInstance = Code(value: .invalidInstance)
        /// Configuration text (such as `CORT_STATIC_SERVICES`) that is missing or cannot be parsed.
        public static let malformedConfiguration = Code(value: .malformedConfiguration)
        /// The backend cannot be reached or stopped answering; a watch may be retried.
        public static let unavailable = Code(value: .unavailable)
        /// The backend refused the credentials (Consul's 401 or 403: a token that is
        /// missing, unknown, or lacks the policy). Retrying helps only once an operator
        /// fixes the token, so it is worth an error in the logs rather than a warning.
        public static let unauthorized = Code(value: .unauthorized)

        /// The backend cannot do what was asked (such as listing its services
        /// with ``Discovery/services()``); retrying does not help.
        public static let unsupported = Code(value: .unsupported)

        init(value: Value) { self.value = value }

        public var description: String {
            switch value {
            case .invalidInstance: "invalid instance"
            case .malformedConfiguration: "malformed configuration"
            case .unavailable: "unavailable"
            case .unauthorized: "unauthorized"
            case .unsupported: "unsupported"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What happened, for people.
    public var message: String
    /// The error underneath, when there is one.
    public var cause: (any Error & Sendable)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        var text = "DiscoveryError(\(code)): \(message)"
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}
