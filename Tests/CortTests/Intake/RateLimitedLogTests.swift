import CortTesting
import Logging
import Testing
@testable import Cort

@Suite struct RateLimitedLogTests {
    @Test func repeatsOfOneCauseBecomeOneLinePerIntervalWithACount() {
        let captured = LogRecorder()
        var log = RateLimitedLog(logger: captured.logger, interval: .seconds(10))
        for step in 0..<1000 {
            log.log(.warning, "flood", "a caller does not read", at: .milliseconds(step))
        }
        #expect(captured.entries.count == 1)
        #expect(log.suppressed("flood") == 999)
        log.log(.warning, "flood", "a caller does not read", at: .seconds(11))
        #expect(captured.entries.count == 2)
        #expect(captured.entries.last?.metadata["cort.log.suppressed"] == "999")
        #expect(log.suppressed("flood") == 0)
    }

    @Test func causesAreCountedApart() {
        let captured = LogRecorder()
        var log = RateLimitedLog(logger: captured.logger, interval: .seconds(10))
        log.log(.debug, "a", "one", at: .zero)
        log.log(.debug, "b", "two", at: .zero)
        log.log(.debug, "a", "one", at: .seconds(1))
        #expect(captured.entries.map(\.message) == ["one", "two"])
    }

    @Test func linesBelowTheLevelCostNothing() {
        let captured = LogRecorder()
        var log = RateLimitedLog(logger: captured.logger(level: .warning), interval: .seconds(10))
        log.log(.debug, "a", "hidden", at: .zero)
        #expect(captured.entries.isEmpty && log.suppressed("a") == 0)
    }
}
