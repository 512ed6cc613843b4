import ArgumentParser
import Cort
import CortConsul
import Foundation

/// The discovery backend a subcommand reads, chosen by the same variables a
/// node and a caller read (`CORT_DISCOVERY`, `CORT_STATIC_SERVICES`,
/// `CONSUL_HTTP_ADDR`, ...), so `cort` sees what they see.
struct CommandDiscovery {
    /// Backends besides `static` and `local`: Consul.
    static let backends: [DiscoveryEnvironment.Backend] = [.consul]

    /// The backend.
    let discovery: any Discovery
    /// Its name, lowercased: `static`, `local`, `consul`, ...
    let backendName: String

    /// The backend the process's environment chooses.
    ///
    /// - Throws: ``CommandFailure`` (exit 1) naming the variable that is wrong.
    init(command: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        do {
            discovery = try DiscoveryEnvironment.discovery(environment, backends: Self.backends)
        } catch let error as DiscoveryError {
            throw CommandFailure(command: command, "cannot choose the discovery backend: \(error.message)")
        }
        backendName = DiscoveryEnvironment.backendName(environment, backends: Self.backends)
    }

    /// The instances discovery lists for `service` (possibly none).
    ///
    /// - Throws: ``CommandFailure`` (exit 1) naming the backend and its error.
    func instances(of service: String, within timeout: Duration, command: String) async throws -> [ServiceInstance] {
        do {
            return try await discovery.instances(of: service, within: timeout)
        } catch let error as DiscoveryError {
            throw CommandFailure(command: command, "\(backendName) discovery: \(error.message)")
        }
    }

    /// What the backend's list of a service's instances means: Consul lists
    /// the instances whose checks pass, the others list every instance they know.
    var listing: String {
        switch backendName {
        case "consul": "passing"
        case "local": "registered"
        default: backendName
        }
    }
}

extension Security {
    /// The CURVE settings the environment gives, as a node and a caller read
    /// them (`CORT_CURVE_SECRET_KEY_FILE`, `CORT_CURVE_SECRET_KEY`, …).
    ///
    /// - Throws: ``CommandFailure`` (exit 1) with the setting's problem.
    static func fromEnvironment(command: String) throws -> Security {
        do throws(ConfigurationError) {
            return try fromEnvironment()
        } catch {
            throw CommandFailure(command: command, error.message)
        }
    }
}
