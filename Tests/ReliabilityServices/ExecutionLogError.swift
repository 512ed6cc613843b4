/// Why an ``ExecutionLog`` could not be opened, written or read.
public struct ExecutionLogError: Error, Sendable, CustomStringConvertible {
    /// What happened, with the file's path.
    public var message: String
    /// The `errno` of the failed system call, or 0 when none failed.
    public var errno: Int32

    /// Creates an error.
    public init(_ message: String, errno: Int32) {
        self.message = message
        self.errno = errno
    }

    public var description: String {
        errno == 0 ? "ExecutionLogError: \(message)" : "ExecutionLogError: \(message) (errno \(errno))"
    }
}
