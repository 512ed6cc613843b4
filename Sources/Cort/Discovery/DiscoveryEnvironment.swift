import Foundation

/// Picks a discovery backend from the environment, so one binary runs on a
/// laptop (static endpoints) and in production (Consul) unchanged.
///
/// `CORT_DISCOVERY` names the backend: `consul` (``ConsulDiscovery``, with
/// `CONSUL_HTTP_ADDR`, `CONSUL_HTTP_TOKEN`, ... as Consul's own tools read
/// them, and `CORT_CONSUL_TTL` and `CORT_CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER`
/// as Go durations: see ``ConsulDiscovery/fromEnvironment(_:logger:)``), `static` (``StaticDiscovery`` from `CORT_STATIC_SERVICES`) or
/// `local` (``LocalDiscovery/shared``, one process). Without it: `consul`
/// when `CONSUL_HTTP_ADDR` is set, else `static` when `CORT_STATIC_SERVICES`
/// is set, else `local`.
///
/// ```swift
/// // CONSUL_HTTP_ADDR=127.0.0.1:8500 ./my-node
/// let discovery = try DiscoveryEnvironment.discovery()
/// let node = try CortSystem.start(.init(name: "node-a", discovery: discovery, endpoint: "tcp://10.0.0.5:5555"))
/// ```
public enum DiscoveryEnvironment {
    /// The variable that names the backend.
    public static let variable = "CORT_DISCOVERY"

    /// The backend the environment asks for.
    ///
    /// - Throws: ``DiscoveryError`` (``DiscoveryError/Code/malformedConfiguration``)
    ///   for an unknown `CORT_DISCOVERY`, or when the chosen backend's own
    ///   variables are missing or malformed; the message names the variable.
    public static func discovery(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> any Discovery {
        let named = environment[variable].flatMap { $0.isEmpty ? nil : $0.lowercased() }
        let backend = named ?? (environment["CONSUL_HTTP_ADDR"]?.isEmpty == false ? "consul"
            : environment[StaticDiscovery.defaultEnvironmentVariable] != nil ? "static" : "local")
        switch backend {
        case "consul":
            return try ConsulDiscovery.fromEnvironment(environment)
        case "static":
            return try StaticDiscovery(environment: environment)
        case "local":
            return LocalDiscovery.shared
        default:
            throw DiscoveryError(.malformedConfiguration,
                                 "\(variable)=\(backend): the backends are consul, static and local")
        }
    }
}
