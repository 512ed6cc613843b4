#if ConsulAgentDouble
/// Why the Consul agent double could not do what a test asked (it never
/// fails a request this way: bad requests get Consul's own answers).
public struct ConsulAgentDoubleError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, as a value that can grow.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable { case listenFailed, notRunning, alreadyRunning }
        private let value: Value

        /// The HTTP listener could not be opened (the port is taken, say).
        public static let listenFailed = Code(value: .listenFailed)
        /// The double was stopped for good.
        public static let notRunning = Code(value: .notRunning)
        /// The double is already listening.
        public static let alreadyRunning = Code(value: .alreadyRunning)

        /// The code's name.
        public var description: String {
            switch value {
            case .listenFailed: "listen failed"
            case .notRunning: "not running"
            case .alreadyRunning: "already running"
            }
        }
    }

    /// What went wrong.
    public let code: Code
    /// What happened, for people.
    public let message: String
    /// The error underneath, if any.
    public let cause: (any Error)?

    /// Makes an error.
    public init(code: Code, message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    /// Code, message and cause in one line.
    public var description: String {
        "ConsulAgentDoubleError(\(code)): \(message)" + (cause.map { " (cause: \($0))" } ?? "")
    }
}

#endif
