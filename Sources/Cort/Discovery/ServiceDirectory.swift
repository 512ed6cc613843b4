import Logging

/// The discovery actor: turns a ``Discovery`` backend's watches into node
/// lists for the `RemoteService`s.
///
/// One backend watch per service however many subscribers; it starts with
/// the first subscriber and stops when the last one goes away. Lists are
/// sorted by id and identical consecutive lists are not re-sent.
///
/// Discovery outages are survivable: when the backend's watch throws or
/// ends, subscribers keep the last good list (they are not sent an empty
/// one) and the directory watches again after a backoff of
/// `minimumRetryDelay × failures²`, capped at `maximumRetryDelay`, measured
/// on the injected clock. The first failure of a streak is logged as a
/// warning, the following ones at debug level, and the recovery once.
///
/// ```swift
/// let directory = ServiceDirectory(discovery: LocalDiscovery.shared)
/// for await nodes in await directory.nodes(for: "greeter") {
///     print(nodes.map(\.endpoint))   // a new list whenever greeter's nodes change
/// }
/// ```
public actor ServiceDirectory {
    /// What a subscriber of ``updates(for:)`` learns.
    public enum Update: Sendable {
        /// The service's nodes now.
        case nodes([ServiceInstance])
        /// The backend's watch failed; the last good list stays in use, and
        /// the directory watches again after a backoff. The error says why
        /// (Consul unreachable, a token it refuses, ...).
        case failed(any Error & Sendable)
    }

    private struct Entry {
        /// The last good list; nil until the backend delivered one.
        var nodes: [ServiceInstance]?
        /// Why the last watch failed, until a list arrives again.
        var failure: (any Error & Sendable)?
        var subscribers: [UInt64: AsyncStream<[ServiceInstance]>.Continuation] = [:]
        var updateSubscribers: [UInt64: AsyncStream<Update>.Continuation] = [:]
        var watch: Task<Void, Never>?
        /// Tells the lists of a stopped watch from those of its successor.
        var generation: UInt64 = 0
        /// How many lists went out to subscribers; for tests of de-duplication.
        var published = 0
    }

    private let discovery: any Discovery
    private let clock: any Clock<Duration>
    private let minimumRetryDelay: Duration
    private let maximumRetryDelay: Duration
    private let logger: Logger
    private var entries: [String: Entry] = [:]
    private var nextToken: UInt64 = 0
    private var isShutDown = false

    /// Creates a directory; it does nothing until someone asks for ``nodes(for:)``.
    ///
    /// - Parameters:
    ///   - discovery: the backend to watch.
    ///   - clock: measures the backoff between failed watches.
    ///   - minimumRetryDelay: the backoff after the first failure (100 ms).
    ///   - maximumRetryDelay: the longest backoff (10 s).
    ///   - logger: where watch failures are reported (never node lists).
    public init(
        discovery: any Discovery,
        clock: any Clock<Duration> = ContinuousClock(),
        minimumRetryDelay: Duration = .milliseconds(100),
        maximumRetryDelay: Duration = .seconds(10),
        logger: Logger = .quiet("cort.discovery")
    ) {
        self.discovery = discovery
        self.clock = clock
        self.minimumRetryDelay = minimumRetryDelay
        self.maximumRetryDelay = maximumRetryDelay
        self.logger = logger
    }

    /// A stream of node lists for `service`: the last known list at once (if
    /// any), then each distinct change. A slow subscriber only ever holds the
    /// newest list. Stop iterating (or cancel the task) to unsubscribe.
    public func nodes(for service: String) -> AsyncStream<[ServiceInstance]> {
        subscribe(service, bufferingNewest: 1) { entry, token, continuation in
            entry.subscribers[token] = continuation
            if let nodes = entry.nodes { continuation.yield(nodes) }
        }
    }

    /// Like ``nodes(for:)``, and also told when the backend's watch fails
    /// (with the error), so a caller that finds no node can say why.
    public func updates(for service: String) -> AsyncStream<Update> {
        subscribe(service, bufferingNewest: 2) { entry, token, continuation in
            entry.updateSubscribers[token] = continuation
            if let nodes = entry.nodes { continuation.yield(.nodes(nodes)) }
            if let failure = entry.failure { continuation.yield(.failed(failure)) }
        }
    }

    /// A stream for a new subscriber to `service`, added to its entry by
    /// `add` (which also gives it what is known), with the watch started.
    private func subscribe<Element: Sendable>(
        _ service: String, bufferingNewest size: Int,
        _ add: (inout Entry, UInt64, AsyncStream<Element>.Continuation) -> Void
    ) -> AsyncStream<Element> {
        let (stream, continuation) = AsyncStream<Element>.makeStream(bufferingPolicy: .bufferingNewest(size))
        if isShutDown {
            continuation.finish()
            return stream
        }
        let token = nextToken
        nextToken += 1
        var entry = entries[service] ?? Entry()
        add(&entry, token, continuation)
        startWatching(service, entry: &entry)
        entries[service] = entry
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            Task { await self.unsubscribe(service: service, token: token) }
        }
        return stream
    }

    private func startWatching(_ service: String, entry: inout Entry) {
        guard entry.watch == nil else { return }
        entry.generation += 1
        let generation = entry.generation
        entry.watch = Task { await self.watchLoop(service: service, generation: generation) }
    }

    /// The last good list for `service` (empty if none yet).
    public func currentNodes(for service: String) -> [ServiceInstance] {
        entries[service]?.nodes ?? []
    }

    /// Stops every watch and ends every subscriber's stream; later
    /// ``nodes(for:)`` streams end at once. ``currentNodes(for:)`` still
    /// answers with the last good lists.
    public func shutdown() {
        isShutDown = true
        for service in entries.keys {
            entries[service]?.watch?.cancel()
            entries[service]?.watch = nil
            // Taken out before finishing: finish runs onTermination, which
            // must find nothing left to remove.
            let subscribers = entries[service]?.subscribers ?? [:]
            let updateSubscribers = entries[service]?.updateSubscribers ?? [:]
            entries[service]?.subscribers = [:]
            entries[service]?.updateSubscribers = [:]
            for continuation in subscribers.values {
                continuation.finish()
            }
            for continuation in updateSubscribers.values {
                continuation.finish()
            }
        }
    }

    /// How many backend watches are running; for tests.
    var activeWatchCount: Int {
        entries.values.filter { $0.watch != nil }.count
    }

    /// How many distinct lists went out for `service`; for tests.
    func publishedListCount(for service: String) -> Int {
        entries[service]?.published ?? 0
    }

    private func unsubscribe(service: String, token: UInt64) {
        guard var entry = entries[service],
              entry.subscribers.removeValue(forKey: token) != nil || entry.updateSubscribers.removeValue(forKey: token) != nil
        else { return }
        if entry.subscribers.isEmpty && entry.updateSubscribers.isEmpty {
            entry.watch?.cancel()
            entry.watch = nil
        }
        entries[service] = entry
    }

    private func receive(_ nodes: [ServiceInstance], service: String, generation: UInt64) {
        guard var entry = entries[service], entry.generation == generation, entry.watch != nil else { return }
        let sorted = nodes.sorted { $0.id < $1.id }
        let recovered = entry.failure != nil
        entry.failure = nil
        if entry.nodes == sorted && !recovered { return }
        entries[service] = entry
        if entry.nodes == sorted {
            // The same list, after a failure: only the update subscribers need to hear it.
            for continuation in entry.updateSubscribers.values { continuation.yield(.nodes(sorted)) }
            return
        }
        entry.nodes = sorted
        entry.published += 1
        entries[service] = entry
        for continuation in entry.subscribers.values {
            continuation.yield(sorted)
        }
        for continuation in entry.updateSubscribers.values {
            continuation.yield(.nodes(sorted))
        }
    }

    private func fail(_ error: any Error & Sendable, service: String, generation: UInt64) {
        guard var entry = entries[service], entry.generation == generation, entry.watch != nil else { return }
        entry.failure = error
        entries[service] = entry
        for continuation in entry.updateSubscribers.values {
            continuation.yield(.failed(error))
        }
    }

    /// Watches until cancelled; every end of the backend's watch, by error or
    /// not, is a failure followed by a backoff. Bounded: each pass either
    /// waits for the backend or sleeps at least `minimumRetryDelay`, and
    /// cancellation ends it.
    private func watchLoop(service: String, generation: UInt64) async {
        var failures = 0
        var lastFailureWasRefusal = false
        while !Task.isCancelled {
            var failure: (any Error & Sendable)?
            do {
                for try await nodes in discovery.watch(service: service) {
                    if failures > 0 {
                        logger.notice(
                            "discovery watch recovered",
                            metadata: ["cort.service": "\(service)", "cort.discovery.failures": "\(failures)"]
                        )
                        failures = 0
                        lastFailureWasRefusal = false
                    }
                    receive(nodes, service: service, generation: generation)
                }
            } catch {
                failure = error
            }
            if Task.isCancelled { return }
            failures += 1
            if let failure { fail(failure, service: service, generation: generation) }
            // A refused token is not an outage: an operator must fix it, and
            // asking again soon changes nothing. Say so as an error, and ask
            // again only at the longest backoff.
            let refused = (failure as? DiscoveryError)?.code == .unauthorized
            let delay = refused ? maximumRetryDelay : retryDelay(afterFailures: failures)
            var metadata: Logger.Metadata = [
                "cort.service": "\(service)",
                "cort.discovery.failures": "\(failures)",
                "cort.discovery.retry_in": "\(delay)",
            ]
            if let failure { metadata["cort.error"] = "\(failure)" }
            let message: Logger.Message = refused
                ? "discovery refused this node's credentials; keeping the last good node list"
                : failure == nil
                    ? "discovery watch ended; keeping the last good node list"
                    : "discovery watch failed; keeping the last good node list"
            let firstOfStreak = failures == 1 || (refused && !lastFailureWasRefusal)
            logger.log(level: firstOfStreak ? (refused ? .error : .warning) : .debug, message, metadata: metadata)
            lastFailureWasRefusal = refused
            do {
                try await clock.sleep(for: delay)
            } catch {
                return
            }
        }
    }

    /// `minimumRetryDelay × failures²`, capped at `maximumRetryDelay`.
    func retryDelay(afterFailures failures: Int) -> Duration {
        // Past the cap's square root the square only overflows.
        let capped = min(failures, 1_000)
        let delay = minimumRetryDelay * (capped * capped)
        return min(delay, maximumRetryDelay)
    }
}
