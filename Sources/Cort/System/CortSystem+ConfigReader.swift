import Configuration
import Foundation
import Logging

extension CortSystem.Configuration {
    /// A configuration read from `config` (environment variables, a JSON or
    /// YAML file, … through apple/swift-configuration), with the defaults of
    /// ``init(name:discovery:endpoint:defaultTimeout:queueCapacity:clock:logger:heartbeat:callLimits:drainGrace:maxMessageBytes:nodeLimits:security:clientInterceptors:serverInterceptors:metricsFactory:tracer:instrumented:answerPolling:ioThreadScheduling:)``
    /// for the keys it does not have. Set a property afterwards to decide it
    /// in code: code wins over the environment.
    ///
    /// ```swift
    /// // CORT_NAME=orders-1 CORT_ENDPOINT=tcp://0.0.0.0:5555 CORT_HEARTBEAT_INTERVAL=250ms ./orders
    /// let config = ConfigReader(provider: EnvironmentVariablesProvider()).scoped(to: "cort")
    /// var configuration = try CortSystem.Configuration(config: config, discovery: discovery)
    /// configuration.defaultTimeout = .seconds(2)   // this one is not the environment's to change
    /// ```
    ///
    /// ## Configuration keys
    /// Durations are Go durations (`"250ms"`, `"10s"`, `"1m30s"`) or a number of seconds.
    /// - `name` (string, required): the system's name, in logs and routing ids.
    /// - `endpoint` (string): where a node serves (`tcp://0.0.0.0:5555`); none for a caller.
    /// - `defaultTimeout` (duration, `10s`), `queueCapacity` (int, 1024),
    ///   `drainGrace` (duration, `250ms`), `maxMessageBytes` (int, 4 MiB).
    /// - `heartbeat.interval` (duration, `1s`), `heartbeat.liveness` (int, 3).
    /// - `answerPolling` (duration, `200us`; `0s` never polls): see ``answerPolling``.
    /// - `resumesCallersOnReactor` (`true` or `false`; `true`): see ``resumesCallersOnReactor``.
    /// - `ioThreadScheduling` (`batchWhenServing`, `batch` or `inherited`;
    ///   `batchWhenServing`): see ``ioThreadScheduling``.
    /// - `callLimits.perNode` (int, 1024), `callLimits.perService` (int, 16384),
    ///   `callLimits.whenFull` (`wait` or `failFast`).
    /// - `nodeLimits.maxCallDuration` (duration, `5m`), `nodeLimits.maxCallers`,
    ///   `nodeLimits.answerBytesPerCaller`, `nodeLimits.answerBytes`,
    ///   `nodeLimits.socketSendBuffer` (bytes; 0 lets the kernel size it),
    ///   `nodeLimits.queuedRequestBytes`, `nodeLimits.instanceCallsInFlight`,
    ///   `nodeLimits.knownTargets` (ints; see ``NodeLimits``).
    /// - `curve.secretKeyFile` (path) or `curve.secretKey` (40 characters of
    ///   Z85): this system's CURVE secret key (`CurveKeyPair(contentsOfFile:)`
    ///   reads the file); either one turns CURVE security on.
    /// - `curve.allowedCallersFile` (path): the callers a CURVE node lets in,
    ///   one public key a line (``CallerAllowList/init(contentsOfFile:)``),
    ///   re-read when it changes or on `SIGHUP`. A CURVE node needs it.
    /// - `log.level` (`trace` … `critical`): log through swift-log's bootstrapped
    ///   handler at this level, labelled `cort`; without it, `logger` (quiet by default).
    ///
    /// - Throws: ``ConfigurationError`` (``ConfigurationError/Code/invalidValue``)
    ///   naming the key, for a missing name or a value that does not parse;
    ///   ``ConfigurationError/Code/invalidKey`` for a key or allow-list file
    ///   that cannot be read.
    public init(
        config: ConfigReader,
        discovery: any Discovery,
        clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = .quiet("cort")
    ) throws {
        let read = SettingReader(config: config)
        guard let name = read.string("name"), !name.isEmpty else {
            throw ConfigurationError(.invalidValue, "the configuration has no 'name' (CORT_NAME in the environment)")
        }
        self.init(name: name, discovery: discovery, clock: clock, logger: logger)
        endpoint = read.string("endpoint") ?? endpoint
        defaultTimeout = try read.duration("defaultTimeout") ?? defaultTimeout
        queueCapacity = try read.int("queueCapacity", atLeast: 1) ?? queueCapacity
        drainGrace = try read.duration("drainGrace") ?? drainGrace
        answerPolling = try read.duration("answerPolling", allowingZero: true) ?? answerPolling
        resumesCallersOnReactor = try read.bool("resumesCallersOnReactor") ?? resumesCallersOnReactor
        if let scheduling = read.string("ioThreadScheduling") {
            guard let value = CortSystem.IOThreadScheduling(rawValue: scheduling) else {
                throw ConfigurationError(.invalidValue, "ioThreadScheduling is '\(scheduling)'; it is 'batchWhenServing', 'batch' or 'inherited'")
            }
            ioThreadScheduling = value
        }
        maxMessageBytes = try read.int("maxMessageBytes", atLeast: 1024) ?? maxMessageBytes
        heartbeat = HeartbeatConfiguration(
            interval: try read.duration("heartbeat.interval") ?? heartbeat.interval,
            liveness: try read.int("heartbeat.liveness", atLeast: 1) ?? heartbeat.liveness)
        callLimits.perNode = try read.int("callLimits.perNode", atLeast: 1) ?? callLimits.perNode
        callLimits.perService = try read.int("callLimits.perService", atLeast: 1) ?? callLimits.perService
        switch read.string("callLimits.whenFull") {
        case nil: break
        case "wait": callLimits.whenFull = .wait
        case "failFast": callLimits.whenFull = .failFast
        case let other?:
            throw ConfigurationError(.invalidValue, "callLimits.whenFull is '\(other)'; it is 'wait' or 'failFast'")
        }
        nodeLimits.maxCallDuration = try read.duration("nodeLimits.maxCallDuration") ?? nodeLimits.maxCallDuration
        nodeLimits.maxCallers = try read.int("nodeLimits.maxCallers", atLeast: 1) ?? nodeLimits.maxCallers
        nodeLimits.answerBytesPerCaller = try read.int("nodeLimits.answerBytesPerCaller", atLeast: 1)
            ?? nodeLimits.answerBytesPerCaller
        nodeLimits.answerBytes = try read.int("nodeLimits.answerBytes", atLeast: 1) ?? nodeLimits.answerBytes
        if let buffer = try read.int("nodeLimits.socketSendBuffer", atLeast: 0) {
            nodeLimits.socketSendBuffer = buffer == 0 ? nil : max(buffer, 4096)
        }
        nodeLimits.queuedRequestBytes = try read.int("nodeLimits.queuedRequestBytes", atLeast: 1)
            ?? nodeLimits.queuedRequestBytes
        nodeLimits.instanceCallsInFlight = try read.int("nodeLimits.instanceCallsInFlight", atLeast: 1)
            ?? nodeLimits.instanceCallsInFlight
        nodeLimits.knownTargets = try read.int("nodeLimits.knownTargets", atLeast: 1) ?? nodeLimits.knownTargets
        security = try read.security()
        if let level = read.string("log.level") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigurationError(.invalidValue, "log.level is '\(level)'; it is one of "
                                         + Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))
            }
            var logger = Logger(label: "cort")
            logger.logLevel = parsed
            self.logger = logger
        }
    }
}

/// Reads settings strictly: a key that is there but does not parse is an
/// error naming it, never a silent default.
private struct SettingReader {
    let config: ConfigReader

    /// CURVE when a secret key is configured, else plaintext.
    func security() throws -> Security {
        try Security.make(secretKeyFile: string("curve.secretKeyFile"),
                          secretKey: config.string(forKey: ConfigKey("curve.secretKey"), isSecret: true),
                          allowedCallersFile: string("curve.allowedCallersFile"),
                          names: ("curve.secretKeyFile", "curve.secretKey", "curve.allowedCallersFile"))
    }

    func string(_ key: String) -> String? {
        config.string(forKey: ConfigKey(key))
    }

    func bool(_ key: String) throws -> Bool? {
        if let value = config.bool(forKey: ConfigKey(key)) { return value }
        guard let text = config.string(forKey: ConfigKey(key)) else { return nil }
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true": return true
        case "false": return false
        default: throw ConfigurationError(.invalidValue, "\(key) is '\(text)'; it is 'true' or 'false'")
        }
    }

    func int(_ key: String, atLeast minimum: Int) throws -> Int? {
        let value: Int
        if let number = config.int(forKey: ConfigKey(key)) {
            value = number
        } else if let text = config.string(forKey: ConfigKey(key)) {
            guard let number = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw ConfigurationError(.invalidValue, "\(key) is '\(text)', not a whole number")
            }
            value = number
        } else {
            return nil
        }
        guard value >= minimum else {
            throw ConfigurationError(.invalidValue, "\(key) is \(value); it must be at least \(minimum)")
        }
        return value
    }

    func duration(_ key: String, allowingZero: Bool = false) throws -> Duration? {
        let duration: Duration
        if let text = config.string(forKey: ConfigKey(key)) {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if let parsed = GoDuration.parse(trimmed) {
                duration = parsed
            } else if let seconds = Double(trimmed) {
                duration = .milliseconds(Int64((seconds * 1000).rounded()))
            } else {
                throw ConfigurationError(.invalidValue, "\(key) is '\(text)', not a duration like 250ms, 10s or 1m30s")
            }
        } else if let seconds = config.double(forKey: ConfigKey(key)) {
            duration = .milliseconds(Int64((seconds * 1000).rounded()))
        } else {
            return nil
        }
        guard duration > .zero || (allowingZero && duration == .zero) else {
            throw ConfigurationError(.invalidValue, "\(key) is \(duration); it must be "
                                     + (allowingZero ? "zero or more" : "more than zero"))
        }
        return duration
    }
}
