import Synchronization

/// In-process discovery: every `CortSystem` in a process that uses the same
/// `LocalDiscovery` sees the others' services. The embedded default.
///
/// ``shared`` is the process-wide instance; tests that must not see each
/// other's registrations create their own with ``init()``.
///
/// Registering an id again replaces the instance registered under it;
/// deregistering an id that is not registered does nothing (so a shutdown
/// that runs twice, or after a failed start, is harmless). Watchers get the
/// current list at once and a new list, sorted by id, on every change. A slow
/// watcher only ever holds the newest list, never a backlog.
///
/// ```swift
/// let discovery = LocalDiscovery()
/// try await discovery.register(ServiceInstance(service: "greeter", id: "greeter@a", endpoint: "tcp://127.0.0.1:5555"))
/// for try await nodes in discovery.watch(service: "greeter") {
///     print(nodes.count)   // 1
///     break
/// }
/// ```
public final class LocalDiscovery: Discovery {
    /// The process-wide instance every `CortSystem` uses unless told otherwise.
    public static let shared = LocalDiscovery()

    private struct State {
        /// service → id → instance
        var instances: [String: [String: ServiceInstance]] = [:]
        /// service → watcher token → continuation
        var watchers: [String: [UInt64: AsyncThrowingStream<[ServiceInstance], any Error>.Continuation]] = [:]
        var nextToken: UInt64 = 0

        func list(for service: String) -> [ServiceInstance] {
            (instances[service] ?? [:]).values.sorted { $0.id < $1.id }
        }

        /// The list of `service` and its watchers, to yield to them once
        /// `state`'s lock is released (see ``LocalDiscovery/publishing``).
        func publication(_ service: String) -> Publication? {
            guard let watchers = watchers[service], !watchers.isEmpty else { return nil }
            return Publication(list: list(for: service), watchers: Array(watchers.values))
        }
    }

    struct Publication {
        let list: [ServiceInstance]
        let watchers: [AsyncThrowingStream<[ServiceInstance], any Error>.Continuation]

        func deliver() {
            for continuation in watchers { continuation.yield(list) }
        }
    }

    private let state = Mutex(State())
    /// Held across a change and its delivery, so two concurrent changes
    /// reach every watcher in the order they were made. The yields happen
    /// outside `state`'s lock: a yield takes the waiting task's status lock,
    /// and a cancelled watcher's task holds that lock while its
    /// `onTermination` takes `state`'s. Yielding under `state`'s lock
    /// deadlocked the two (seen once in a CI run). Nothing takes this lock
    /// from under either of those.
    private let publishing = Mutex(())

    /// Creates an empty, isolated discovery (for tests, or for several
    /// independent groups of systems in one process).
    public init() {}

    /// Announces `instance` to every watcher of its service.
    ///
    /// - Throws: ``DiscoveryError/Code/invalidInstance`` when the instance
    ///   fails ``ServiceInstance/validate()``; nothing changes then.
    public func register(_ instance: ServiceInstance) async throws {
        try instance.validate()
        publishing.withLock { _ in
            let publication = state.withLock { state -> Publication? in
                if state.instances[instance.service]?[instance.id] == instance { return nil }
                state.instances[instance.service, default: [:]][instance.id] = instance
                return state.publication(instance.service)
            }
            publication?.deliver()
        }
    }

    /// Withdraws the instance with `instance`'s service and id; an unknown id is a no-op.
    ///
    /// - Throws: ``DiscoveryError/Code/invalidInstance`` for an empty or
    ///   malformed service name or id.
    public func deregister(_ instance: ServiceInstance) async throws {
        try ServiceInstance.validate(serviceName: instance.service)
        if instance.id.isEmpty {
            throw DiscoveryError(.invalidInstance, "instance id of service \"\(instance.service)\" is empty")
        }
        publishing.withLock { _ in
            let publication = state.withLock { state -> Publication? in
                guard state.instances[instance.service]?.removeValue(forKey: instance.id) != nil else { return nil }
                if state.instances[instance.service]?.isEmpty == true {
                    state.instances[instance.service] = nil
                }
                return state.publication(instance.service)
            }
            publication?.deliver()
        }
    }

    /// The current list at once, then every change. An invalid service name
    /// ends the stream with ``DiscoveryError/Code/invalidInstance``.
    public func watch(service: String) -> AsyncThrowingStream<[ServiceInstance], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[ServiceInstance], any Error>.makeStream(
            bufferingPolicy: .bufferingNewest(1)
        )
        do {
            try ServiceInstance.validate(serviceName: service)
        } catch {
            continuation.finish(throwing: error)
            return stream
        }
        let token = state.withLock { state in
            let token = state.nextToken
            state.nextToken += 1
            state.watchers[service, default: [:]][token] = continuation
            continuation.yield(state.list(for: service))
            return token
        }
        // Safe to set after registering: the stream has not been handed out,
        // so it cannot have terminated yet.
        continuation.onTermination = { [weak self] _ in
            self?.removeWatcher(service: service, token: token)
        }
        return stream
    }

    /// The services with at least one registered instance, sorted.
    public func services() async throws -> [String] {
        state.withLock { $0.instances.keys.sorted() }
    }

    /// How many watches are open (all services); for tests of leak freedom.
    var watcherCount: Int {
        state.withLock { $0.watchers.values.reduce(0) { $0 + $1.count } }
    }

    private func removeWatcher(service: String, token: UInt64) {
        state.withLock { state in
            state.watchers[service]?[token] = nil
            if state.watchers[service]?.isEmpty == true {
                state.watchers[service] = nil
            }
        }
    }
}
