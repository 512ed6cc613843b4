#if ConsulAgentDouble
/// Faults a test switches on to see how a client copes with a Consul that
/// misbehaves the ways real ones do.
extension ConsulAgentDouble {
    /// The agent restarts: connections and requests in flight are dropped,
    /// every service and check is gone, and the index starts low again (a
    /// watch holding a higher index hangs until its wait runs out, as with a
    /// real agent). It listens again on the same port.
    ///
    /// - Throws: ``ConsulAgentDoubleError`` when the port cannot be bound again.
    public func restart() async throws {
        await goUnreachable()
        update { state, _ in state.restart() }
        try await comeBack()
    }

    /// The index goes back to `index` (at least 1) with the data kept, as
    /// after a snapshot restore; parked blocking queries answer at once with
    /// the lower index.
    public func rewindIndex(to index: UInt64) {
        update { state, _ in state.rewindIndex(to: index) }
    }

    /// While on, the servers have no leader, as `consul-api.md` says a real
    /// cluster behaves:
    /// - default and `?consistent` health and catalog reads get 500
    ///   `No cluster leader` with `X-Consul-KnownLeader: false`;
    /// - `?stale` reads are answered (any server may answer them), blocking
    ///   as usual, with `X-Consul-KnownLeader: false`;
    /// - the agent's own endpoints (service register and deregister, check
    ///   pass, warn, fail and update, `/v1/agent/services`) answer as usual,
    ///   so TTL checks a node keeps passing stay passing;
    /// - `/v1/status/leader` gives `""`.
    public func setNoLeader(_ on: Bool) {
        core.withLock { $0.faults.noLeader = on }
    }

    /// Turns ACLs on with `token` as the only accepted one, or off with
    /// `nil`, from the next request on (the configuration's
    /// ``Configuration/aclToken`` is where it starts). A test uses it to
    /// refuse a client's token, then to accept it, as when an operator fixes
    /// a policy.
    public func setACLToken(_ token: String?) {
        core.withLock { $0.faults.aclToken = token }
    }

    /// While on, every request gets 429 (rate limited).
    public func setRateLimited(_ on: Bool) {
        core.withLock { $0.faults.rateLimited = on }
    }

    /// Every answer from now on waits `delay` first, on the double's clock
    /// (`.zero` turns it off).
    public func setResponseDelay(_ delay: Duration) {
        core.withLock { $0.faults.delay = delay }
    }

    /// The node's `serfHealth` check turns `status` (`passing`, `warning`
    /// or `critical`), so `?passing` drops every instance on the node.
    public func setSerfHealth(_ status: String) {
        update { state, now in state.setSerfHealth(status, now: now) }
    }

    /// The agent becomes unreachable: the listener closes (new connections
    /// are refused), open connections close and requests in flight end
    /// without an answer. The state is kept; ``comeBack()`` reopens the port.
    public func goUnreachable() async {
        let listener = core.withLock { core in
            defer { core.listener = nil }
            return core.listener
        }
        await listener?.close()
        // Keep the port while unreachable (see holdPort(_:)).
        guard listener != nil, let hold = Self.holdPort(port) else { return }
        let surplus = core.withLock { core -> Int32? in
            if core.stopped || core.listener != nil || core.portHold != nil { return hold }
            core.portHold = hold
            return nil
        }
        if let surplus { Self.releasePort(surplus) }
    }

    /// The agent is reachable again on the same port.
    ///
    /// - Throws: ``ConsulAgentDoubleError``: `notRunning` after ``stop()``,
    ///   `alreadyRunning` if it is reachable, `listenFailed` when the port
    ///   cannot be bound again (another process took it).
    public func comeBack() async throws {
        try core.withLock { core in
            if core.stopped { throw ConsulAgentDoubleError(code: .notRunning, message: "the double was stopped") }
            if core.listener != nil { throw ConsulAgentDoubleError(code: .alreadyRunning, message: "the double is reachable") }
        }
        let hold = core.withLock { core in
            defer { core.portHold = nil }
            return core.portHold
        }
        if let hold { Self.releasePort(hold) }
        let listener = try await Self.listen(port: port, handler: handlerBox)
        let surplus = core.withLock { core -> Listener? in
            if core.stopped || core.listener != nil { return listener }
            core.listener = listener
            return nil
        }
        await surplus?.close()
    }
}

#endif
