extension ConsulClient {
    /// Every service the catalog knows, with the union of its tags
    /// (`GET /v1/catalog/services`); blocks like ``healthService(_:tags:passingOnly:stale:index:wait:)``
    /// when `index` is above 0.
    public func catalogServices(
        stale: Bool = true, index: UInt64 = 0, wait: Duration? = nil
    ) async throws(ConsulError) -> ConsulQueryResult<[String: [String]]> {
        let request = blockingRequest("/v1/catalog/services", stale ? [("stale", nil)] : [], index: index, wait: wait)
        let response = try await send(request)
        // Older agents send null for a service without tags.
        let services = try decode([String: [String]?].self, from: response, for: request)
        return try queryResult(services.mapValues { $0 ?? [] }, from: response, for: request)
    }

    /// The Raft leader's address (`GET /v1/status/leader`), e.g. `10.1.10.12:8300`; `nil`
    /// when the cluster has no leader (the agent answers `""`).
    public func leader() async throws(ConsulError) -> String? {
        let request = request(.get, "/v1/status/leader")
        let response = try await send(request)
        let leader = try decode(String.self, from: response, for: request)
        return leader.isEmpty ? nil : leader
    }
}
