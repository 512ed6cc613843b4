import Logging
import Synchronization
import Testing
@testable import Cort

/// Keeps the lines a logger writes, for tests.
final class CapturedLog: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let lines = Mutex<[Line]>([])

    var all: [Line] { lines.withLock { $0 } }

    func logger(level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: "captured") { _ in Handler(log: self) }
        logger.logLevel = level
        return logger
    }

    fileprivate func append(_ line: Line) {
        lines.withLock { $0.append(line) }
    }

    private struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
            log.append(Line(level: event.level, message: "\(event.message)", metadata: merged.mapValues { "\($0)" }))
        }
    }
}

@Suite struct RateLimitedLogTests {
    @Test func repeatsOfOneCauseBecomeOneLinePerIntervalWithACount() {
        let captured = CapturedLog()
        var log = RateLimitedLog(logger: captured.logger(), interval: .seconds(10))
        for step in 0..<1000 {
            log.log(.warning, "flood", "a caller does not read", at: .milliseconds(step))
        }
        #expect(captured.all.count == 1)
        #expect(log.suppressed("flood") == 999)
        log.log(.warning, "flood", "a caller does not read", at: .seconds(11))
        #expect(captured.all.count == 2)
        #expect(captured.all.last?.metadata["cort.log.suppressed"] == "999")
        #expect(log.suppressed("flood") == 0)
    }

    @Test func causesAreCountedApart() {
        let captured = CapturedLog()
        var log = RateLimitedLog(logger: captured.logger(), interval: .seconds(10))
        log.log(.debug, "a", "one", at: .zero)
        log.log(.debug, "b", "two", at: .zero)
        log.log(.debug, "a", "one", at: .seconds(1))
        #expect(captured.all.map(\.message) == ["one", "two"])
    }

    @Test func linesBelowTheLevelCostNothing() {
        let captured = CapturedLog()
        var log = RateLimitedLog(logger: captured.logger(level: .warning), interval: .seconds(10))
        log.log(.debug, "a", "hidden", at: .zero)
        #expect(captured.all.isEmpty && log.suppressed("a") == 0)
    }
}
