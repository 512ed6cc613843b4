/// Why lines could not be read as a ``FloodReport``.
public struct FloodReportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// The line that is wrong, or nil when a line is missing.
    public var line: String?

    /// Creates an error.
    public init(_ message: String, line: String?) {
        self.message = message
        self.line = line
    }

    public var description: String {
        line.map { "FloodReportError: \(message) in \"\($0)\"" } ?? "FloodReportError: \(message)"
    }
}
