#if ConsulAgentDouble
/// A service registration as the agent reads it from
/// `PUT /v1/agent/service/register`, already validated.
struct ServiceDefinition: Equatable, Sendable {
    var id: String
    var name: String
    var tags: [String] = []
    var address: String = ""
    var port: Int = 0
    var meta: [String: String] = [:]
    var weights = Weights()
    var enableTagOverride = false
    var checks: [CheckDefinition] = []

    struct Weights: Equatable, Sendable {
        var passing = 1
        var warning = 1
    }
}

/// One check of a registration (`Check` or an element of `Checks`).
struct CheckDefinition: Equatable, Sendable {
    var checkID = ""
    var name = ""
    var status = ""
    var notes = ""
    var ttl: Duration = .zero
    var interval: Duration = .zero
    var timeout: Duration = .zero
    var deregisterCriticalServiceAfter: Duration = .zero
    /// Script, HTTP, TCP, UDP, gRPC or H2PING: a check the agent would run
    /// itself every `interval` (the double keeps its status as registered).
    var isIntervalCheck = false
    var isAliasCheck = false
    /// Set when a field the double does not model was given a non-zero
    /// value, so that the check is not "empty" in Go's sense.
    var hasOtherSettings = false

    /// Go's `CheckType.Empty()`: every field at its zero value.
    var isEmpty: Bool { self == CheckDefinition() }

    /// `CheckType.Validate()`, with the agent's texts.
    func validationError() -> String? {
        if interval > .zero && ttl > .zero { return "Interval and TTL cannot both be specified" }
        if isIntervalCheck && interval <= .zero {
            return "Interval must be > 0 for Script, HTTP, H2PING, TCP or UDP checks"
        }
        if !isIntervalCheck && !isAliasCheck && ttl <= .zero { return "TTL must be > 0 for TTL checks" }
        return nil
    }
}

#endif
