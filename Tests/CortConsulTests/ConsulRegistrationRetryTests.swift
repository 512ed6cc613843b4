import Logging
import Testing
@testable import CortConsul

/// When a registration Consul did not take is tried again, and what is logged.
@Suite struct ConsulRegistrationRetryTests {
    static func retry() -> ConsulRegistrationRetry {
        ConsulRegistrationRetry(minimumDelay: .seconds(1), maximumDelay: .seconds(30))
    }

    @Test func anOutageDoublesFromTheMinimumToTheMaximumAndWarnsOnce() {
        var retry = Self.retry()
        let decisions = (0..<7).map { _ in retry.failed(.outage) }
        #expect(decisions.map(\.delay) == [1, 2, 4, 8, 16, 30, 30].map { Duration.seconds($0) })
        #expect(decisions.map(\.level) == [.warning] + Array(repeating: .debug, count: 6))
        #expect(retry.succeeded() == 7)
        #expect(retry.succeeded() == 0)
        #expect(retry.failed(.outage) == .init(delay: .seconds(1), level: .warning), "a new streak after a success")
    }

    @Test func aRefusedTokenWaitsTheMaximumAtOnceAndIsAnErrorOnce() {
        var retry = Self.retry()
        #expect(retry.failed(.unauthorized) == .init(delay: .seconds(30), level: .error))
        #expect(retry.failed(.unauthorized) == .init(delay: .seconds(30), level: .debug))
        // The agent goes away: a new streak, an outage's pace and level.
        #expect(retry.failed(.outage) == .init(delay: .seconds(1), level: .warning))
        #expect(retry.failed(.unauthorized) == .init(delay: .seconds(30), level: .error))
    }

    @Test func consulsAnswersAreSortedIntoOutagesAndRefusals() {
        func failure(_ code: ConsulError.Code, _ status: Int? = nil) -> ConsulRegistrationRetry.Failure {
            .init(ConsulError(code, "test", status: status))
        }
        #expect(failure(.transport) == .outage)
        #expect(failure(.timeout) == .outage)
        #expect(failure(.httpStatus, 500) == .outage)
        #expect(failure(.httpStatus, 503) == .outage)
        #expect(failure(.httpStatus, 429) == .outage)
        #expect(failure(.httpStatus, 408) == .outage)
        #expect(failure(.httpStatus, 401) == .unauthorized)
        #expect(failure(.httpStatus, 403) == .unauthorized)
        #expect(failure(.httpStatus, 400) == .refused)
        #expect(failure(.httpStatus, 404) == .outage, "not Consul's answer: a proxy, or no agent there")
        #expect(failure(.httpStatus, 405) == .outage)
        #expect(failure(.invalidArgument) == .refused)
    }
}
