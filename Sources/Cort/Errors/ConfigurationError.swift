/// A mistake in how a system was set up or a service hosted, found before
/// any call: a service without a name, a name taken twice, hosting on a
/// system that serves no endpoint, an endpoint it cannot bind.
///
/// Kept apart from ``RemoteCallError``, which says why one remote call
/// failed: a configuration error is fixed in code or deployment, never by
/// retrying.
///
/// ```swift
/// do {
///     try await caller.host(replicas: 2) { Greeter(actorSystem: $0) }
/// } catch let error as ConfigurationError where error.code == .noEndpoint {
///     // this system was started without `Configuration.endpoint`
/// }
/// ```
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// What kind of mistake this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: Hashable, Sendable {
            case invalidServiceName, duplicateService, noEndpoint, cannotServe, invalidValue, shutDown, invalidKey
        }

        let value: Value

        /// A service name that is empty or longer than the wire allows (256 bytes).
        public static let invalidServiceName = Code(value: .invalidServiceName)
        /// This node already hosts a service of that name.
        public static let duplicateService = Code(value: .duplicateService)
        /// Hosting on a system started without ``CortSystem/Configuration/endpoint``.
        public static let noEndpoint = Code(value: .noEndpoint)
        /// The system cannot serve on its endpoint (malformed, or the port is taken).
        public static let cannotServe = Code(value: .cannotServe)
        /// A setting out of its range (the message names it).
        public static let invalidValue = Code(value: .invalidValue)
        /// The system is shutting down or shut down: it hosts nothing more.
        public static let shutDown = Code(value: .shutDown)
        /// A CURVE key, key file or allow-list that cannot be read or is not
        /// valid (the message names the file and line), or a security setting
        /// that cannot work (a CURVE node without an allow-list).
        public static let invalidKey = Code(value: .invalidKey)

        public var description: String {
            switch value {
            case .invalidServiceName: "invalid service name"
            case .duplicateService: "duplicate service"
            case .noEndpoint: "no endpoint"
            case .cannotServe: "cannot serve"
            case .invalidValue: "invalid value"
            case .shutDown: "shut down"
            case .invalidKey: "invalid key"
            }
        }
    }

    /// What kind of mistake this is.
    public let code: Code
    /// What is wrong and how to fix it, for people.
    public let message: String
    /// The underlying error, when there is one (for example libzmq's, for an endpoint it cannot bind).
    public let cause: (any Error & Sendable)?

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        "ConfigurationError(\(code)): \(message)" + (cause.map { " (\($0))" } ?? "")
    }
}
