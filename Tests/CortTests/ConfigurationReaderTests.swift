import Configuration
import Logging
import Testing
@testable import Cort

/// `CortSystem.Configuration(config:discovery:)`: every setting from the
/// environment or a file through swift-configuration, strictly parsed.
@Suite struct ConfigurationReaderTests {
    static func configuration(_ environment: [String: String]) throws -> CortSystem.Configuration {
        let config = ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: environment))
        return try CortSystem.Configuration(config: config.scoped(to: "cort"), discovery: LocalDiscovery())
    }

    @Test func everySettingIsReadFromTheEnvironment() throws {
        let configuration = try Self.configuration([
            "CORT_NAME": "orders-1",
            "CORT_ENDPOINT": "tcp://0.0.0.0:5555",
            "CORT_DEFAULT_TIMEOUT": "2s",
            "CORT_QUEUE_CAPACITY": "64",
            "CORT_DRAIN_GRACE": "1s500ms",
            "CORT_MAX_MESSAGE_BYTES": "1048576",
            "CORT_HEARTBEAT_INTERVAL": "250ms",
            "CORT_HEARTBEAT_LIVENESS": "4",
            "CORT_CALL_LIMITS_PER_NODE": "128",
            "CORT_CALL_LIMITS_PER_SERVICE": "512",
            "CORT_CALL_LIMITS_WHEN_FULL": "failFast",
            "CORT_NODE_LIMITS_MAX_CALL_DURATION": "30m",
            "CORT_NODE_LIMITS_MAX_CALLERS": "100",
            "CORT_NODE_LIMITS_ANSWER_BYTES_PER_CALLER": "1000000",
            "CORT_NODE_LIMITS_ANSWER_BYTES": "50000000",
            "CORT_NODE_LIMITS_SOCKET_SEND_BUFFER": "0",
            "CORT_NODE_LIMITS_QUEUED_REQUEST_BYTES": "2000000",
            "CORT_NODE_LIMITS_INSTANCE_CALLS_IN_FLIGHT": "8",
            "CORT_NODE_LIMITS_KNOWN_TARGETS": "256",
            "CORT_LOG_LEVEL": "debug",
            "CORT_ANSWER_POLLING": "150us",
            "CORT_IO_THREAD_SCHEDULING": "inherited",
        ])
        #expect(configuration.name == "orders-1")
        #expect(configuration.endpoint == "tcp://0.0.0.0:5555")
        #expect(configuration.defaultTimeout == .seconds(2))
        #expect(configuration.queueCapacity == 64)
        #expect(configuration.drainGrace == .milliseconds(1500))
        #expect(configuration.maxMessageBytes == 1 << 20)
        #expect(configuration.heartbeat.interval == .milliseconds(250))
        #expect(configuration.heartbeat.liveness == 4)
        #expect(configuration.callLimits == CallLimits(perNode: 128, perService: 512, whenFull: .failFast))
        #expect(configuration.nodeLimits.maxCallDuration == .seconds(1800))
        #expect(configuration.nodeLimits.maxCallers == 100)
        #expect(configuration.nodeLimits.answerBytesPerCaller == 1_000_000)
        #expect(configuration.nodeLimits.answerBytes == 50_000_000)
        #expect(configuration.nodeLimits.socketSendBuffer == nil)
        #expect(configuration.nodeLimits.queuedRequestBytes == 2_000_000)
        #expect(configuration.nodeLimits.instanceCallsInFlight == 8)
        #expect(configuration.nodeLimits.knownTargets == 256)
        #expect(configuration.logger.logLevel == .debug)
        #expect(configuration.answerPolling == .microseconds(150))
        #expect(configuration.ioThreadScheduling == .inherited)
    }

    @Test func ioThreadsAreBatchScheduledWhenServingByDefault() throws {
        #expect(try Self.configuration(["CORT_NAME": "n"]).ioThreadScheduling == .batchWhenServing)
        #expect(CortSystem.Configuration(name: "n", discovery: LocalDiscovery()).ioThreadScheduling == .batchWhenServing)
        #expect(try Self.configuration(["CORT_NAME": "n", "CORT_IO_THREAD_SCHEDULING": "batch"]).ioThreadScheduling == .batch)
        #expect(try Self.configuration(["CORT_NAME": "n", "CORT_IO_THREAD_SCHEDULING": "inherited"]).ioThreadScheduling == .inherited)
    }

    @Test func answerPollingIsOnByDefaultAndZeroTurnsItOff() throws {
        #expect(try Self.configuration(["CORT_NAME": "n"]).answerPolling == .microseconds(200))
        #expect(try Self.configuration(["CORT_NAME": "n", "CORT_ANSWER_POLLING": "0s"]).answerPolling == .zero)
        // A negative one is an error (see aValueThatDoesNotParseIsAnErrorNamingIt); in code, a negative window is no polling.
        #expect(CortSystem.Configuration(name: "n", discovery: LocalDiscovery(), answerPolling: .milliseconds(-1))
            .answerPolling == .zero)
    }

    @Test func callersResumeOnTheReactorByDefaultAndFalseTurnsItOff() throws {
        #expect(try Self.configuration(["CORT_NAME": "n"]).resumesCallersOnReactor)
        #expect(CortSystem.Configuration(name: "n", discovery: LocalDiscovery()).resumesCallersOnReactor)
        #expect(try Self.configuration(["CORT_NAME": "n", "CORT_RESUMES_CALLERS_ON_REACTOR": "false"]).resumesCallersOnReactor == false)
        #expect(try Self.configuration(["CORT_NAME": "n", "CORT_RESUMES_CALLERS_ON_REACTOR": "true"]).resumesCallersOnReactor)
        let error = #expect(throws: ConfigurationError.self) {
            try Self.configuration(["CORT_NAME": "n", "CORT_RESUMES_CALLERS_ON_REACTOR": "sometimes"])
        }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.contains("resumesCallersOnReactor") == true)
    }

    @Test func whatIsNotSetKeepsTheDefaultsAndCodeWins() throws {
        var configuration = try Self.configuration(["CORT_NAME": "caller", "CORT_DEFAULT_TIMEOUT": "3s"])
        let defaults = CortSystem.Configuration(name: "caller", discovery: LocalDiscovery())
        #expect(configuration.endpoint == nil)
        #expect(configuration.queueCapacity == defaults.queueCapacity)
        #expect(configuration.heartbeat == defaults.heartbeat)
        #expect(configuration.nodeLimits == defaults.nodeLimits)
        #expect(configuration.logger.handler is SwiftLogNoOpLogHandler, "quiet without log.level")
        #expect(configuration.defaultTimeout == .seconds(3))
        configuration.defaultTimeout = .seconds(1)
        #expect(configuration.defaultTimeout == .seconds(1))
    }

    @Test func aFileReadsTheSameKeys() throws {
        let provider = InMemoryProvider(values: [
            "cort.name": "from-a-file", "cort.queueCapacity": 12, "cort.heartbeat.interval": 0.5,
            "cort.defaultTimeout": "1m",
        ])
        let configuration = try CortSystem.Configuration(config: ConfigReader(provider: provider).scoped(to: "cort"),
                                                         discovery: LocalDiscovery())
        #expect(configuration.name == "from-a-file")
        #expect(configuration.queueCapacity == 12)
        #expect(configuration.heartbeat.interval == .milliseconds(500))
        #expect(configuration.defaultTimeout == .seconds(60))
    }

    @Test(arguments: [
        ([:], "no 'name'"),
        (["CORT_NAME": ""], "no 'name'"),
        (["CORT_NAME": "n", "CORT_QUEUE_CAPACITY": "lots"], "queueCapacity is 'lots'"),
        (["CORT_NAME": "n", "CORT_QUEUE_CAPACITY": "0"], "queueCapacity is 0"),
        (["CORT_NAME": "n", "CORT_HEARTBEAT_INTERVAL": "soon"], "heartbeat.interval is 'soon'"),
        (["CORT_NAME": "n", "CORT_DEFAULT_TIMEOUT": "-1s"], "defaultTimeout is"),
        (["CORT_NAME": "n", "CORT_ANSWER_POLLING": "-5us"], "answerPolling is"),
        (["CORT_NAME": "n", "CORT_CALL_LIMITS_WHEN_FULL": "panic"], "callLimits.whenFull is 'panic'"),
        (["CORT_NAME": "n", "CORT_IO_THREAD_SCHEDULING": "fifo"], "ioThreadScheduling is 'fifo'"),
        (["CORT_NAME": "n", "CORT_LOG_LEVEL": "loud"], "log.level is 'loud'"),
    ] as [([String: String], String)])
    func aValueThatDoesNotParseIsAnErrorNamingIt(environment: [String: String], message: String) {
        do {
            _ = try Self.configuration(environment)
            Issue.record("expected a ConfigurationError for \(environment)")
        } catch let error as ConfigurationError {
            #expect(error.code == .invalidValue)
            #expect(error.message.contains(message), "\(error.message)")
        } catch {
            Issue.record("not a ConfigurationError: \(error)")
        }
    }
}
