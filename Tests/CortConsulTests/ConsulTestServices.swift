import Cort
import Distributed
import Foundation

/// The service ConsulDiscoveryTests call: every method answers with the
/// endpoint of the node that ran it, so a test sees which nodes its calls
/// found through Consul.
distributed actor Ledger: IdempotentMethods {
    typealias ActorSystem = CortSystem
    static let idempotentMethods: Set<String> = ["read(_:)"]

    distributed func read(_ key: String) -> String {
        id.endpoint ?? "?"
    }

    distributed func append(_ key: String) -> String {
        id.endpoint ?? "?"
    }
}

extension ConsulDiscoveryTests {
    /// A key no other test uses.
    static func key(_ name: String) -> String { "\(name)-\(UUID().uuidString)" }
}
