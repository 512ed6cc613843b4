import Cort

extension ConsulDiscovery {
    /// The services Consul's catalog knows (`GET /v1/catalog/services`),
    /// sorted, without Consul's own `consul` service. A service is listed
    /// while any instance is registered, passing or not; its passing
    /// instances are what ``watch(service:)`` yields.
    ///
    /// - Throws: `DiscoveryError` saying what Consul answered
    ///   (`DiscoveryError/Code/unauthorized` for a refused token, else
    ///   `DiscoveryError/Code/unavailable`).
    public func services() async throws -> [String] {
        do throws(ConsulError) {
            let catalog = try await client.catalogServices()
            return catalog.value.keys.filter { $0 != "consul" }.sorted()
        } catch {
            throw Self.discoveryError(error, agent: configuration.consul.endpoint, doing: "cannot list the services")
        }
    }
}
