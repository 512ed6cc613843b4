#if ConsulAgentDouble
/// What a test can see of the agent: its services, checks and index, the
/// requests it got, and how many blocking queries are parked.
extension ConsulAgentDouble {
    /// A service as registered with the agent.
    public struct RegisteredService: Equatable, Sendable {
        /// The service ID (the name when none was given).
        public var id: String
        /// The service name.
        public var name: String
        /// Tags, in registration order.
        public var tags: [String]
        /// The address given at registration ("" means the node's).
        public var address: String
        /// The port.
        public var port: Int
        /// Service metadata.
        public var meta: [String: String]

        /// Makes a description (for comparing with ``ConsulAgentDouble/services``).
        public init(id: String, name: String, tags: [String] = [], address: String = "", port: Int = 0,
                    meta: [String: String] = [:]) {
            self.id = id
            self.name = name
            self.tags = tags
            self.address = address
            self.port = port
            self.meta = meta
        }
    }

    /// A check as the agent holds it.
    public struct RegisteredCheck: Equatable, Sendable {
        /// The check ID (`service:<id>` by default).
        public var id: String
        /// The check name (`Service '<name>' check` by default).
        public var name: String
        /// The service the check belongs to.
        public var serviceID: String
        /// `passing`, `warning` or `critical`.
        public var status: String
        /// The check's output (a TTL update's note, or `TTL expired`).
        public var output: String
        /// The TTL; zero for a check the agent would run itself.
        public var ttl: Duration
        /// `DeregisterCriticalServiceAfter` as the agent uses it (at least
        /// a minute), or nil.
        public var deregisterCriticalServiceAfter: Duration?
    }

    /// A request as the double received it.
    public struct RecordedRequest: Sendable {
        /// The HTTP method.
        public var method: String
        /// The path, percent-decoded.
        public var path: String
        /// The query parameters in order (a bare `?passing` has value "").
        public var query: [(name: String, value: String)]
        /// The headers, names lowercased.
        public var headers: [String: String]
        /// The body (empty when it was larger than the limit).
        public var body: [UInt8]
        /// The status the double answered with (0: none, the connection was
        /// dropped).
        public var status: Int

        /// The first value of the query parameter `name`, if present.
        public func queryValue(_ name: String) -> String? {
            query.first { $0.name == name }?.value
        }

        /// The value of the header `name` (any letter case).
        public func header(_ name: String) -> String? {
            headers[name.lowercased()]
        }
    }

    /// Every registered service, by ID.
    public var services: [RegisteredService] {
        update { state, _ in
            state.services.values.map(\.definition).sorted { $0.id < $1.id }.map {
                RegisteredService(id: $0.id, name: $0.name, tags: $0.tags, address: $0.address, port: $0.port, meta: $0.meta)
            }
        }
    }

    /// Every check, by ID, as of the clock's current time.
    public var checks: [RegisteredCheck] {
        update { state, _ in
            state.checks.values.sorted { $0.id < $1.id }.map {
                RegisteredCheck(id: $0.id, name: $0.name, serviceID: $0.serviceID, status: $0.status, output: $0.output,
                                ttl: $0.ttl, deregisterCriticalServiceAfter: $0.deregisterAfter)
            }
        }
    }

    /// The check `id`, if the agent has it.
    public func check(_ id: String) -> RegisteredCheck? {
        checks.first { $0.id == id }
    }

    /// The agent's current Raft-like index.
    public var index: UInt64 {
        update { state, _ in state.index }
    }

    /// The requests received so far, oldest first.
    public var requests: [RecordedRequest] {
        core.withLock { $0.requests }
    }

    /// Blocking queries parked right now.
    public var blockedQueryCount: Int {
        core.withLock { $0.state.blockedCount }
    }

    /// Returns once at least `count` blocking queries are parked, so a test
    /// can change something (or move its clock) knowing the query waits.
    /// Cancelling the task ends the wait, so a test can bound it.
    public func waitForBlockedQueries(_ count: Int) async {
        let id = core.withLock { core in
            defer { core.nextWaiterID += 1 }
            return core.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = core.withLock { core in
                    if core.cancelledWaiters.remove(id) != nil || core.state.blockedCount >= count { return true }
                    core.blockedCountWaiters[id] = (count, continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let continuation = core.withLock { core in
                let waiter = core.blockedCountWaiters.removeValue(forKey: id)
                if waiter == nil { core.cancelledWaiters.insert(id) }
                return waiter?.continuation
            }
            continuation?.resume()
        }
        core.withLock { core in _ = core.cancelledWaiters.remove(id) }
    }
}

#endif
