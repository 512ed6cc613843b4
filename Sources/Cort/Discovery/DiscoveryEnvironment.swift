import Foundation

/// Picks a discovery backend from the environment, so one binary runs on a
/// laptop (static endpoints) and in production (Consul) unchanged.
///
/// `CORT_DISCOVERY` names the backend: `static` (``StaticDiscovery`` from
/// `CORT_STATIC_SERVICES`), `local` (``LocalDiscovery/shared``, one process),
/// or one of the `backends` passed in, such as CortConsul's `.consul`. Without
/// it: the first of `backends` whose selecting variable is set (`consul` when
/// `CONSUL_HTTP_ADDR` is), else `static` when `CORT_STATIC_SERVICES` is set,
/// else `local`.
///
/// Consul lives in the CortConsul module, so that a program that never uses
/// it does not link libcurl. A program built without it that is asked for
/// Consul (`CORT_DISCOVERY=consul`, or `CONSUL_HTTP_ADDR` set) gets an error
/// that says so, rather than quietly running on local discovery.
///
/// ```swift
/// import Cort
/// import CortConsul   // the CortConsul product: ConsulDiscovery and `.consul`
///
/// // CONSUL_HTTP_ADDR=127.0.0.1:8500 ./my-node
/// let discovery = try DiscoveryEnvironment.discovery(backends: [.consul])
/// let node = try CortSystem.start(.init(name: "node-a", discovery: discovery, endpoint: "tcp://10.0.0.5:5555"))
/// ```
public enum DiscoveryEnvironment {
    /// The variable that names the backend.
    public static let variable = "CORT_DISCOVERY"

    /// Backends other modules provide, by name, with the variable that asks
    /// for each and the module to add: only for the error a program built
    /// without them gives.
    static let elsewhere: [(name: String, variable: String, module: String, backend: String)] = [
        ("consul", "CONSUL_HTTP_ADDR", "CortConsul", ".consul"),
    ]

    /// The name of the backend the environment asks for, lowercased
    /// (`static`, `local`, `consul`, ...), by the rules of
    /// ``discovery(_:backends:)``; it may name a backend that is not among
    /// `backends`, which ``discovery(_:backends:)`` then refuses. Tools use it
    /// to say what a listing means (Consul lists only passing instances).
    public static func backendName(
        _ environment: [String: String] = ProcessInfo.processInfo.environment,
        backends: [Backend] = []
    ) -> String {
        func isSet(_ name: String) -> Bool { environment[name]?.isEmpty == false }
        if let named = environment[variable], !named.isEmpty { return named.lowercased() }
        return backends.first { $0.selectingVariable.map(isSet) ?? false }?.name.lowercased()
            ?? elsewhere.first { isSet($0.variable) }?.name
            ?? (environment[StaticDiscovery.defaultEnvironmentVariable] != nil ? "static" : "local")
    }

    /// The backend the environment asks for.
    ///
    /// - Parameters:
    ///   - environment: the variables to read; the process's environment by default.
    ///   - backends: backends besides `static` and `local`, such as CortConsul's
    ///     ``Backend`` `.consul`.
    /// - Throws: ``DiscoveryError`` (``DiscoveryError/Code/malformedConfiguration``)
    ///   for an unknown `CORT_DISCOVERY`, for a backend this program was built
    ///   without (the message names the module to add), or when the chosen
    ///   backend's own variables are missing or malformed; the message names the variable.
    public static func discovery(
        _ environment: [String: String] = ProcessInfo.processInfo.environment,
        backends: [Backend] = []
    ) throws -> any Discovery {
        let named = environment[variable].flatMap { $0.isEmpty ? nil : $0.lowercased() }
        let name = backendName(environment, backends: backends)
        if let backend = backends.first(where: { $0.name.lowercased() == name }) {
            return try backend.make(environment)
        }
        switch name {
        case "static":
            return try StaticDiscovery(environment: environment)
        case "local":
            return LocalDiscovery.shared
        default:
            if let missing = elsewhere.first(where: { $0.name == name }) {
                var message = named == nil ? "\(missing.variable) is set" : "\(variable)=\(name)"
                message += ", but this program was built without \(missing.name) discovery: add the \(missing.module)"
                message += " product, import \(missing.module) and call DiscoveryEnvironment.discovery(backends: [\(missing.backend)])"
                if named == nil { message += ", or set \(variable)=static or local to ignore \(missing.variable)" }
                throw DiscoveryError(.malformedConfiguration, message)
            }
            let known = backends.map { $0.name.lowercased() }.reduce(into: ["static", "local"]) { known, name in
                if !known.contains(name) { known.append(name) }
            }
            throw DiscoveryError(.malformedConfiguration,
                                 "\(variable)=\(name): the backends are \(known.joined(separator: ", "))")
        }
    }
}
