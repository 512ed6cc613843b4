import Logging

extension Logger {
    /// A logger that discards everything: cort's default wherever a logger
    /// is optional, so a library user sees nothing until they pass their own.
    @usableFromInline
    package static func quiet(_ label: String) -> Logger {
        Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() })
    }
}
