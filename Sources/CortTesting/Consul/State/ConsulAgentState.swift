#if ConsulAgentDouble
/// Everything a Consul agent (with its servers) knows, as a value: services,
/// checks, the Raft-like index, blocked queries and the timers that change
/// them. It does no I/O and reads no clock: each event carries `now` (the
/// time since the agent started), and the answers are values and wake-ups.
///
/// Time-driven changes (a TTL running out, the reaper) happen in
/// ``advance(to:)``, which every event calls first, so the state is right
/// whenever it is asked, whether or not a timer has fired yet.
struct ConsulAgentState: Sendable {
    struct Configuration: Sendable {
        var node = ConsulAgentDouble.Node()
        /// The floor the agent puts under `DeregisterCriticalServiceAfter`.
        var minimumDeregisterAfter: Duration = .seconds(60)
        /// How often the agent's reaper runs.
        var reapInterval: Duration = .seconds(30)
        /// Longer check output is cut, as the agent does.
        var outputMaxSize = 4096
        /// The index of a freshly started agent.
        var initialIndex: UInt64 = 1
    }

    /// What a blocking query watches.
    enum Query: Hashable, Sendable {
        case health(service: String)
        case catalogServices
    }

    struct Service: Equatable, Sendable {
        var definition: ServiceDefinition
    }

    struct Check: Equatable, Sendable {
        var id: String
        var name: String
        var serviceID: String
        var status: String
        var output = ""
        var notes = ""
        var ttl: Duration = .zero
        /// When the TTL runs out; nil when it is not running.
        var ttlDeadline: Duration?
        /// The output of the last TTL update, quoted when the TTL runs out.
        var lastTTLOutput = ""
        /// Since when the check has been critical, counted from its first
        /// turn to critical through an update (not its initial status).
        var criticalSince: Duration?
        var deregisterAfter: Duration?
    }

    /// An agent answer other than success: the status and plain-text body.
    struct Failure: Error, Equatable {
        var status: Int
        var message: String
    }

    let configuration: Configuration
    private(set) var now: Duration = .zero
    private(set) var index: UInt64
    private(set) var services: [String: Service] = [:]
    private(set) var checks: [String: Check] = [:]
    /// The status of the node's own `serfHealth` check.
    private(set) var serfHealth: String
    private var healthIndex: [String: UInt64] = [:]
    private var servicesIndex: UInt64
    private var catalogIndex: UInt64
    private var nextReap: Duration
    private var waiters: [UInt64: (query: Query, minIndex: UInt64)] = [:]
    private var wakes: [UInt64] = []

    init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        index = max(configuration.initialIndex, 1)
        servicesIndex = index
        catalogIndex = index
        nextReap = configuration.reapInterval
        serfHealth = configuration.node.serfHealth
    }
}

// MARK: - Events

extension ConsulAgentState {
    /// `PUT /v1/agent/service/register`: adds or replaces the service.
    mutating func register(_ definition: ServiceDefinition, replaceExistingChecks: Bool, now: Duration) {
        advance(to: now)
        let before = views(of: definition.id, alsoName: definition.name)
        let count = definition.checks.count
        var kept = Set<String>()
        for (offset, check) in definition.checks.enumerated() {
            let id = !check.checkID.isEmpty ? check.checkID
                : count == 1 ? "service:\(definition.id)" : "service:\(definition.id):\(offset + 1)"
            kept.insert(id)
            var record = Check(
                id: id,
                name: check.name.isEmpty ? "Service '\(definition.name)' check" : check.name,
                serviceID: definition.id,
                status: check.status.isEmpty ? CheckStatus.critical : check.status,
                notes: check.notes,
                ttl: check.ttl
            )
            // The agent restores a re-registered check's status and output
            // from its snapshot, whatever the new definition says.
            if let existing = checks[id] {
                record.status = existing.status
                record.output = existing.output
            }
            if check.ttl > .zero { record.ttlDeadline = now + check.ttl }
            if check.deregisterCriticalServiceAfter > .zero {
                record.deregisterAfter = max(check.deregisterCriticalServiceAfter, configuration.minimumDeregisterAfter)
            }
            checks[id] = record
        }
        if replaceExistingChecks {
            for (id, check) in checks where check.serviceID == definition.id && !kept.contains(id) {
                checks[id] = nil
            }
        }
        var stored = definition
        stored.checks = []
        services[definition.id] = Service(definition: stored)
        commit(before: before)
    }

    /// `PUT /v1/agent/service/deregister/<id>`.
    mutating func deregister(serviceID: String, now: Duration) -> Result<Void, Failure> {
        advance(to: now)
        guard services[serviceID] != nil else {
            return .failure(Failure(status: 404, message:
                "Unknown service ID \"\(serviceID)\". Ensure that the service ID is passed, not the service name."))
        }
        let before = views(of: serviceID)
        remove(serviceID: serviceID)
        commit(before: before)
        return .success(())
    }

    /// `PUT /v1/agent/check/{pass,warn,fail,update}/<id>`: the TTL check's
    /// `SetStatus`.
    mutating func updateTTL(checkID: String, status: String, output: String, now: Duration) -> Result<Void, Failure> {
        advance(to: now)
        guard let check = checks[checkID] else {
            return .failure(Failure(status: 404, message:
                "Unknown check ID \"\(checkID)\". Ensure that the check ID is passed, not the check name."))
        }
        guard check.ttl > .zero else {
            return .failure(Failure(status: 500, message: "CheckID \"\(checkID)\" does not have associated TTL"))
        }
        var output = output
        let limit = configuration.outputMaxSize
        if limit > 0 && output.utf8.count > limit {
            let total = output.utf8.count
            output = String(decoding: output.utf8.prefix(limit), as: UTF8.self)
                + " ... (captured \(limit) of \(total) bytes)"
        }
        let before = views(of: check.serviceID)
        setStatus(checkID: checkID, status: status, output: output, at: now)
        checks[checkID]?.lastTTLOutput = output
        checks[checkID]?.ttlDeadline = now + check.ttl
        commit(before: before)
        return .success(())
    }

    /// Fault: the node's `serfHealth` check turns `status` (every instance
    /// on the node then fails `?passing`).
    mutating func setSerfHealth(_ status: String, now: Duration) {
        advance(to: now)
        let before = views(names: Set(services.values.map(\.definition.name)))
        serfHealth = status
        commit(before: before)
    }

    /// Moves time forward: TTLs that ran out turn critical and the reaper
    /// runs on its 30s beat, in time order.
    mutating func advance(to time: Duration) {
        guard time > now else { return }
        // Each turn handles one expiry or one reaper beat; the bound is far
        // above what any test can produce.
        for _ in 0..<1_000_000 {
            let expiry = nextExpiry(before: time)
            let reapDue = nextReap <= time
            if let (id, deadline) = expiry, !reapDue || deadline <= nextReap {
                now = deadline
                expire(checkID: id)
            } else if reapDue {
                now = nextReap
                if hasReapCandidates {
                    reap()
                    nextReap += configuration.reapInterval
                } else {
                    // Nothing to reap: jump to the first beat after `time`,
                    // keeping the beat's phase.
                    let beats = (time - nextReap) / configuration.reapInterval
                    nextReap += configuration.reapInterval * (Int(beats.rounded(.down)) + 1)
                }
            } else {
                break
            }
        }
        now = time
    }

    /// The first TTL to run out by `time` (ties by check ID).
    private func nextExpiry(before time: Duration) -> (id: String, deadline: Duration)? {
        var best: (id: String, deadline: Duration)?
        for check in checks.values {
            guard let deadline = check.ttlDeadline, deadline <= time else { continue }
            if let current = best, current.deadline < deadline || (current.deadline == deadline && current.id < check.id) {
                continue
            }
            best = (check.id, deadline)
        }
        return best
    }

    private mutating func expire(checkID: String) {
        guard let check = checks[checkID] else { return }
        let before = views(of: check.serviceID)
        let output = check.lastTTLOutput.isEmpty ? "TTL expired"
            : "TTL expired (last output before timeout follows): \(check.lastTTLOutput)"
        setStatus(checkID: checkID, status: CheckStatus.critical, output: output, at: now)
        checks[checkID]?.ttlDeadline = nil
        commit(before: before)
    }

    private var hasReapCandidates: Bool {
        checks.values.contains { $0.criticalSince != nil && $0.deregisterAfter != nil }
    }

    private mutating func reap() {
        var reaped = Set<String>()
        for check in checks.values.sorted(by: { $0.id < $1.id }) {
            guard let since = check.criticalSince, let after = check.deregisterAfter,
                  !reaped.contains(check.serviceID), now - since > after else { continue }
            reaped.insert(check.serviceID)
        }
        for serviceID in reaped.sorted() {
            let before = views(of: serviceID)
            remove(serviceID: serviceID)
            commit(before: before)
        }
    }

    /// The local state's `UpdateCheck`: critical time is tracked even when
    /// nothing else changes.
    private mutating func setStatus(checkID: String, status: String, output: String, at time: Duration) {
        guard var check = checks[checkID] else { return }
        if status == CheckStatus.critical {
            if check.criticalSince == nil { check.criticalSince = time }
        } else {
            check.criticalSince = nil
        }
        check.status = status
        check.output = output
        checks[checkID] = check
    }

    private mutating func remove(serviceID: String) {
        services[serviceID] = nil
        for (id, check) in checks where check.serviceID == serviceID { checks[id] = nil }
    }
}

// MARK: - Index and blocking queries

extension ConsulAgentState {
    /// What clients can see of some services and of the catalog, to tell
    /// whether an event changed anything (the agent syncs only changes).
    private struct Views: Equatable {
        var health: [String: [HealthEntry]]
        var catalog: [String: [String]]
    }

    /// The views an event on `serviceID` can change; `alsoName` is the name
    /// a registration is about to give it.
    private func views(of serviceID: String, alsoName: String? = nil) -> Views {
        views(names: Set([services[serviceID]?.definition.name, alsoName].compactMap { $0 }))
    }

    private func views(names: Set<String>) -> Views {
        var health: [String: [HealthEntry]] = [:]
        for name in names { health[name] = self.health(service: name) }
        return Views(health: health, catalog: catalogServices())
    }

    /// Bumps the index for what changed since `before` and queues the
    /// blocked queries that can now answer.
    private mutating func commit(before: Views) {
        let catalog = catalogServices()
        let catalogChanged = catalog != before.catalog
        let healthChanged = before.health.filter { health(service: $0.key) != $0.value }.keys
        guard catalogChanged || !healthChanged.isEmpty else { return }
        index += 1
        for name in healthChanged { healthIndex[name] = index }
        if catalogChanged {
            catalogIndex = index
            servicesIndex = index
        }
        wakeReadyWaiters()
    }

    /// The index a blocking query on `query` compares with (never 0).
    func index(of query: Query) -> UInt64 {
        switch query {
        case .health(let name): max(healthIndex[name] ?? servicesIndex, 1)
        case .catalogServices: max(catalogIndex, 1)
        }
    }

    /// Parks a blocking query; `false` when it can answer at once.
    mutating func block(waiter id: UInt64, on query: Query, above minIndex: UInt64, now: Duration) -> Bool {
        advance(to: now)
        guard index(of: query) <= minIndex else { return false }
        waiters[id] = (query, minIndex)
        return true
    }

    /// Forgets a parked query (it timed out or its client left).
    mutating func unblock(waiter id: UInt64) {
        waiters[id] = nil
    }

    var blockedCount: Int { waiters.count }

    /// The parked queries that can answer now, each once.
    mutating func takeWakes() -> [UInt64] {
        defer { wakes = [] }
        return wakes
    }

    private mutating func wakeReadyWaiters() {
        for (id, waiter) in waiters where index(of: waiter.query) > waiter.minIndex {
            waiters[id] = nil
            wakes.append(id)
        }
    }

    /// Every parked query answers now (a snapshot restore or an index moved
    /// back abandons the watches, as the servers do).
    private mutating func wakeAll() {
        wakes.append(contentsOf: waiters.keys.sorted())
        waiters = [:]
    }

    /// Fault: the index goes back to `value` (at least 1), as after a
    /// snapshot restore; the data stay.
    mutating func rewindIndex(to value: UInt64) {
        index = max(value, 1)
        servicesIndex = min(servicesIndex, index)
        catalogIndex = min(catalogIndex, index)
        for (name, old) in healthIndex { healthIndex[name] = min(old, index) }
        wakeAll()
    }

    /// Fault: the agent restarts; everything is gone and the index is low.
    mutating func restart() {
        let parked = waiters
        self = ConsulAgentState(configuration: configuration)
        waiters = parked
        wakeAll()
    }

    /// When the next time-driven change is due, for the driver's timer.
    var nextDeadline: Duration? {
        let ttl = checks.values.compactMap(\.ttlDeadline).min()
        let reap = hasReapCandidates ? nextReap : nil
        return [ttl, reap].compactMap { $0 }.min()
    }
}

#endif
