import Logging
import Synchronization

/// Keeps what a logger was told (level, message, metadata), so a test can
/// count lines, read them, and wait for one.
///
/// ```swift
/// let recorder = LogRecorder()
/// let node = try CortSystem.start(.init(name: "n", discovery: discovery, logger: recorder.logger(level: .warning)))
/// await recorder.waitFor("does not read its answers")
/// ```
public final class LogRecorder: Sendable {
    /// One line: its level, message and metadata (values as text).
    public struct Entry: Sendable {
        public var level: Logger.Level
        public var message: String
        public var metadata: [String: String]
    }

    private struct State {
        var entries: [Entry] = []
        var waiters: [(String, CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    /// A recorder with nothing recorded yet.
    public init() {}

    /// A logger that records everything at `.trace` and above.
    public var logger: Logger { logger(level: .trace) }

    /// A logger that records what is at `level` and above.
    public func logger(level: Logger.Level) -> Logger {
        var logger = Logger(label: "test") { _ in Handler(recorder: self) }
        logger.logLevel = level
        return logger
    }

    public var entries: [Entry] { state.withLock { $0.entries } }

    public func count(_ level: Logger.Level) -> Int { entries.filter { $0.level == level }.count }

    /// Returns once a message containing `text` was logged.
    public func waitFor(_ text: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.entries.contains(where: { $0.message.contains(text) }) { return true }
                state.waiters.append((text, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func record(_ entry: Entry) {
        let ready = state.withLock { state in
            state.entries.append(entry)
            let ready = state.waiters.filter { entry.message.contains($0.0) }.map(\.1)
            state.waiters.removeAll { entry.message.contains($0.0) }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            recorder.record(Entry(level: event.level, message: event.message.description,
                                  metadata: merged.mapValues { "\($0)" }))
        }
    }
}
