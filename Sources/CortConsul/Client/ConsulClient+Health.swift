extension ConsulClient {
    /// The instances of a service with their checks (`GET /v1/health/service/<name>`).
    ///
    /// With `index` above 0 this is a blocking query: the agent answers when the data's
    /// index passes `index`, or after `wait` (plus its jitter) with the same data.
    ///
    /// - Parameters:
    ///   - name: the service's name.
    ///   - tags: tags every returned instance must have.
    ///   - passingOnly: `?passing`: leave out instances with any check not passing
    ///     (`warning` included).
    ///   - stale: `?stale`: let any server answer (cheaper; may lag the leader slightly).
    ///   - index: the `X-Consul-Index` of the previous answer, or 0 to answer at once.
    ///   - wait: the longest time to block; the agent's default (5 minutes) when `nil`.
    /// - Returns: the instances, with ``ConsulServiceInstance/address`` already resolved to
    ///   the node's address where the service has none, and the answer's index.
    public func healthService(
        _ name: String,
        tags: [String] = [],
        passingOnly: Bool = true,
        stale: Bool = true,
        index: UInt64 = 0,
        wait: Duration? = nil
    ) async throws(ConsulError) -> ConsulQueryResult<[ConsulServiceInstance]> {
        try Self.requireNonEmpty(name, "service name")
        var items: [(String, String?)] = []
        if passingOnly { items.append(("passing", nil)) }
        if stale { items.append(("stale", nil)) }
        for tag in tags { items.append(("tag", tag)) }
        let request = blockingRequest("/v1/health/service/\(ConsulPath.segment(name))", items, index: index, wait: wait)
        let response = try await send(request)
        let entries = try decode([HealthEntryWire].self, from: response, for: request)
        return try queryResult(entries.map(\.instance), from: response, for: request)
    }

    /// A GET with the blocking parameters appended and the matching timeout.
    func blockingRequest(_ path: String, _ items: [(String, String?)], index: UInt64, wait: Duration?) -> HTTPRequest {
        var items = items
        var timeout = configuration.requestTimeout
        if index > 0 {
            items.append(("index", String(index)))
            // The agent's own default wait is 5 minutes.
            let effectiveWait = wait ?? .seconds(300)
            if let wait { items.append(("wait", wait.goDuration)) }
            timeout = blockingTimeout(wait: effectiveWait)
        }
        return HTTPRequest(method: .get, target: path + ConsulPath.queryString(items), body: nil, timeout: timeout)
    }
}
