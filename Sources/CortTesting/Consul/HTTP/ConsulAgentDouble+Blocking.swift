#if ConsulAgentDouble
/// The servers' read endpoints: query options (consistency, `index`,
/// `wait`), blocking, and the headers every answer carries.
extension ConsulAgentDouble {
    /// The longest and the default blocking wait, as the servers use them.
    static let maximumWait: Duration = .seconds(600)
    static let defaultWait: Duration = .seconds(300)

    struct QueryOptions {
        var minIndex: UInt64 = 0
        var wait: Duration = .zero
        /// `?stale`: any server may answer, with or without a leader.
        var stale = false
    }

    /// `parseConsistency` then `parseWait`, with the agent's 400 texts.
    private func queryOptions(_ request: Incoming) -> Result<QueryOptions, AgentAnswer> {
        if request.has("stale") && request.has("consistent") {
            return .failure(.text(400, "Cannot specify ?stale with ?consistent, conflicting semantics."))
        }
        var options = QueryOptions()
        options.stale = request.has("stale")
        if let wait = request.first("wait"), !wait.isEmpty {
            guard let duration = GoDuration.parse(wait) else { return .failure(.text(400, "Invalid wait time")) }
            options.wait = duration
        }
        if let index = request.first("index"), !index.isEmpty {
            guard let value = UInt64(index) else { return .failure(.text(400, "Invalid index")) }
            options.minIndex = value
        }
        return .success(options)
    }

    /// Blocks while the index of `query` is at most `options.minIndex`, for
    /// the clamped wait plus jitter; a cancelled request is dropped.
    private func block(_ query: ConsulAgentState.Query, _ options: QueryOptions) async -> Bool {
        guard options.minIndex > 0 else { return true }
        var wait = options.wait
        if wait > Self.maximumWait { wait = Self.maximumWait } else if wait <= .zero { wait = Self.defaultWait }
        let limit = wait / 16
        wait += min(max(configuration.jitter(limit), .zero), limit)
        await waitForChange(of: query, above: options.minIndex, until: clock.elapsed() + wait)
        return !Task.isCancelled
    }

    private static func noLeader() -> AgentAnswer {
        .text(500, "No cluster leader", headers: [("X-Consul-KnownLeader", "false"), ("X-Consul-LastContact", "0")])
    }

    /// Without a leader only `?stale` reads are answered; a default or
    /// `?consistent` read needs the leader.
    private static func refusedForNoLeader(_ options: QueryOptions, noLeader: Bool) -> AgentAnswer? {
        noLeader && !options.stale ? Self.noLeader() : nil
    }

    func health(_ name: String, _ request: Incoming, noLeader: Bool) async -> AgentAnswer {
        let options: QueryOptions
        switch queryOptions(request) {
        case .success(let parsed): options = parsed
        case .failure(let answer): return answer
        }
        var passing = false
        if request.has("passing") {
            let value = request.first("passing") ?? ""
            guard let parsed = value.isEmpty ? true : Self.goBool(value) else {
                return .text(400, "Invalid value for ?passing")
            }
            passing = parsed
        }
        if name.isEmpty { return .text(400, "Missing service name") }
        if let denied = aclDenial(request) { return denied }
        if let refused = Self.refusedForNoLeader(options, noLeader: noLeader) { return refused }
        let query = ConsulAgentState.Query.health(service: name)
        guard await block(query, options) else { return .aborted }
        let tags = request.all("tag")
        let (entries, index) = update { state, _ in
            (state.health(service: name, tags: tags, passingOnly: passing), state.index(of: query))
        }
        return .json(entries, index: index, knownLeader: !core.withLock { $0.faults.noLeader })
    }

    func catalogServices(_ request: Incoming, noLeader: Bool) async -> AgentAnswer {
        let options: QueryOptions
        switch queryOptions(request) {
        case .success(let parsed): options = parsed
        case .failure(let answer): return answer
        }
        if let denied = aclDenial(request) { return denied }
        if let refused = Self.refusedForNoLeader(options, noLeader: noLeader) { return refused }
        guard await block(.catalogServices, options) else { return .aborted }
        let (services, index) = update { state, _ in (state.catalogServices(), state.index(of: .catalogServices)) }
        return .json(services, index: index, knownLeader: !core.withLock { $0.faults.noLeader })
    }
}

#endif
