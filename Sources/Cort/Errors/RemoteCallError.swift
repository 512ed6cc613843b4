/// Why a remote call did not return a value.
///
/// A `code` a program can switch on, a `message` for people (never a
/// payload), and the underlying `cause` when there is one. Codes are structs
/// over a private enum so new ones can be added without breaking callers.
///
/// ```swift
/// do {
///     let greeting = try await greeter.hello(name: "Ada")
/// } catch let error as RemoteCallError where error.code == .deadlineExceeded {
///     // the call may or may not have run; nobody waits for it any more
/// }
/// ```
public struct RemoteCallError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: UInt8, Sendable {
            case deadlineExceeded = 1
            case cancelled = 2
            case noNodes = 3
            case overloaded = 4
            case unknownTarget = 5
            case badArguments = 6
            case protocolError = 7
            case transport = 8
            case remoteApplicationError = 9
            case messageTooLarge = 10
            case shuttingDown = 11
            case outcomeUnknown = 12
            case permissionDenied = 13
        }

        let value: Value

        /// The call's deadline passed before a reply arrived (or before the node started it).
        public static let deadlineExceeded = Code(value: .deadlineExceeded)
        /// The caller's task was cancelled; the node was told to stop.
        public static let cancelled = Code(value: .cancelled)
        /// Discovery knows no node for the service.
        public static let noNodes = Code(value: .noNodes)
        /// The node's queue for the service was full: the call did not run.
        public static let overloaded = Code(value: .overloaded)
        /// The node hosts no such service, actor or method.
        public static let unknownTarget = Code(value: .unknownTarget)
        /// The node could not decode the arguments for the method's parameters.
        public static let badArguments = Code(value: .badArguments)
        /// A frame that breaks cort's wire protocol (garbage, wrong version, bad shape).
        public static let protocolError = Code(value: .protocolError)
        /// The transport failed (socket error, unreachable node).
        public static let transport = Code(value: .transport)
        /// The method threw an error that is not registered with the system;
        /// the message carries its type name and description.
        public static let remoteApplicationError = Code(value: .remoteApplicationError)
        /// The request or reply exceeds the configured size limit.
        public static let messageTooLarge = Code(value: .messageTooLarge)
        /// The node is shutting down and takes no new calls.
        public static let shuttingDown = Code(value: .shuttingDown)
        /// The call was sent to a node that then failed (it died, froze or
        /// dropped the connection) before answering, so it may or may not
        /// have run; it was not idempotent, so it was not sent again. The
        /// message names the node and what happened to it.
        public static let outcomeUnknown = Code(value: .outcomeUnknown)
        /// The node does not let this caller call this service or method
        /// (its ``ServiceAccess``), or no longer lets its key in: the call did
        /// not run. Failover never moves it: every node of a service applies
        /// the same rules.
        public static let permissionDenied = Code(value: .permissionDenied)

        /// The code's number on the wire (see docs/PROTOCOL.md).
        public var wireValue: UInt8 { value.rawValue }

        /// The code for a number read off the wire; unknown numbers become `protocolError`.
        public init(wireValue: UInt8) {
            value = Value(rawValue: wireValue) ?? .protocolError
        }

        init(value: Value) { self.value = value }

        /// The code as Swift names it (`badArguments`), for tools and scripts.
        package var name: String { "\(value)" }

        public var description: String {
            switch value {
            case .deadlineExceeded: "deadline exceeded"
            case .cancelled: "cancelled"
            case .noNodes: "no nodes"
            case .overloaded: "overloaded"
            case .unknownTarget: "unknown target"
            case .badArguments: "bad arguments"
            case .protocolError: "protocol error"
            case .transport: "transport"
            case .remoteApplicationError: "remote application error"
            case .messageTooLarge: "message too large"
            case .shuttingDown: "shutting down"
            case .outcomeUnknown: "outcome unknown"
            case .permissionDenied: "permission denied"
            }
        }
    }

    /// What kind of failure this is.
    public var code: Code
    /// What happened, for people; never contains a payload.
    public var message: String
    /// The error underneath, when there is one (a socket error, a decoding error).
    public var cause: (any Error & Sendable)?
    /// The attempts the call made before it failed, in order: which node
    /// each went to, what happened, when and for how long. Empty for a call
    /// that failed before it was sent anywhere.
    public var attempts: [CallAttempt] = []

    /// Creates an error.
    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        var text = "RemoteCallError(\(code)): \(message)"
        if let cause { text += " (cause: \(cause))" }
        if !attempts.isEmpty {
            text += "; attempts: " + attempts.map(\.description).joined(separator: "; ")
        }
        return text
    }
}
