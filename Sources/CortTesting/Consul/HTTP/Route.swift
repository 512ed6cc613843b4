#if ConsulAgentDouble
/// The endpoints the double answers, read from a percent-decoded path.
enum Route: Equatable, Sendable {
    case register
    case deregister(serviceID: String)
    case ttl(status: String, checkID: String)
    case update(checkID: String)
    case agentServices
    case health(service: String)
    case catalogServices
    case statusLeader

    init?(path: String) {
        func rest(after prefix: String) -> String? {
            path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : nil
        }
        if path == "/v1/agent/service/register" { self = .register }
        else if let id = rest(after: "/v1/agent/service/deregister/") { self = .deregister(serviceID: id) }
        else if let id = rest(after: "/v1/agent/check/pass/") { self = .ttl(status: CheckStatus.passing, checkID: id) }
        else if let id = rest(after: "/v1/agent/check/warn/") { self = .ttl(status: CheckStatus.warning, checkID: id) }
        else if let id = rest(after: "/v1/agent/check/fail/") { self = .ttl(status: CheckStatus.critical, checkID: id) }
        else if let id = rest(after: "/v1/agent/check/update/") { self = .update(checkID: id) }
        else if path == "/v1/agent/services" { self = .agentServices }
        else if let name = rest(after: "/v1/health/service/") { self = .health(service: name) }
        else if path == "/v1/catalog/services" { self = .catalogServices }
        else if path == "/v1/status/leader" { self = .statusLeader }
        else { return nil }
    }

    /// The one method the agent accepts here (besides OPTIONS).
    var method: String {
        switch self {
        case .register, .deregister, .ttl, .update: "PUT"
        case .agentServices, .health, .catalogServices, .statusLeader: "GET"
        }
    }
}

#endif
