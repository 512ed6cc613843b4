import Cort
import Foundation
import Logging
import Synchronization

/// Discovery through a Consul agent: the backend for services that span
/// machines.
///
/// - ``register(_:)`` registers the instance with the local agent (its ID,
///   name, address and port, tags, and `cort_protocol` in its meta) with a TTL
///   check that starts passing, then passes the check every third of its TTL
///   for as long as the instance is registered. A Consul that cannot take the
///   registration (unreachable, too slow, 5xx, 429, or a refused token) does
///   not stop the node: `register` returns, and the registration is retried
///   in the background (1 s doubling to 30 s; a refused token waits 30 s at
///   once) until Consul takes it. When the agent has forgotten the instance
///   (it restarted: a pass answers 404, or an old agent's 500), it registers
///   again. ``deregister(_:)`` (called by a node's drain) stops all of that
///   and deregisters it.
/// - ``watch(service:)`` follows the passing instances of a service with
///   blocking queries (`?passing&stale`). A failed query ends the stream with
///   a `DiscoveryError` that says what Consul answered
///   (`DiscoveryError/Code/unauthorized` for a refused token, else
///   `DiscoveryError/Code/unavailable`); a `ServiceDirectory` keeps the
///   last good list and watches again with backoff.
///
/// A node is used only when Consul lists it as passing *and* it answers the
/// caller's heartbeats; Consul's TTL removes a dead node later than the
/// heartbeats do, so a caller stops sending to it first.
///
/// ```swift
/// // CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, ... as Consul's own tools read them;
/// // CORT_CONSUL_TTL, CORT_CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER for the check.
/// let discovery = try ConsulDiscovery.fromEnvironment()
/// let node = try CortSystem.start(.init(name: "node-a", discovery: discovery, endpoint: "tcp://10.0.0.5:5555"))
/// try await node.host("greeter", replicas: 4) { Greeter(actorSystem: $0) }   // Consul down or not
/// ```
public final class ConsulDiscovery: Discovery {
    /// How ``ConsulDiscovery`` uses the agent.
    public struct Configuration: Sendable {
        /// Where the agent is and how to talk to it.
        public var consul: ConsulConfiguration
        /// The TTL of each registration's check; it is passed every third of it.
        public var ttl: Duration
        /// How long a check may stay critical before the agent removes the
        /// instance (the agent raises it to at least a minute).
        public var deregisterCriticalServiceAfter: Duration
        /// The address to register when a node listens on every interface
        /// (`tcp://0.0.0.0:port` or `tcp://*:port`); nil registers none, and
        /// Consul then gives callers the agent's node address.
        public var advertisedAddress: String?
        /// Tags added to every registration.
        public var tags: [String]
        /// How watches query and pace themselves.
        public var watch: HealthWatch.Configuration
        /// How long ``ConsulDiscovery/register(_:)`` waits for its first
        /// attempt before it returns and leaves the attempt to the background:
        /// when Consul answers in time the instance is registered (or refused
        /// as the node's mistake) when `register` returns; a blackholed agent
        /// holds a node's start this long at most. Real time, like the HTTP
        /// timeouts it cuts short (not ``clock``); zero does not wait.
        public var registrationWait: Duration
        /// The first retry delay of a registration Consul could not take; it
        /// doubles after each failure of an outage ...
        public var minimumRetryDelay: Duration
        /// ... up to this. A refused token (401/403) waits this long at once.
        public var maximumRetryDelay: Duration
        /// The clock of the TTL passes, the registration retries and the
        /// watches' pacing.
        public var clock: any Clock<Duration>
        /// Where the backend logs (registrations, outages and recoveries; never a flood).
        public var logger: Logger

        /// A configuration; `consul` defaults to the agent at `127.0.0.1:8500`.
        public init(
            consul: ConsulConfiguration = ConsulConfiguration(),
            ttl: Duration = .seconds(10),
            deregisterCriticalServiceAfter: Duration = .seconds(60),
            advertisedAddress: String? = nil,
            tags: [String] = [],
            watch: HealthWatch.Configuration = HealthWatch.Configuration(),
            registrationWait: Duration = .seconds(2),
            minimumRetryDelay: Duration = .seconds(1),
            maximumRetryDelay: Duration = .seconds(30),
            clock: any Clock<Duration> = ContinuousClock(),
            logger: Logger = .quiet("cort.consul")
        ) {
            self.consul = consul
            self.ttl = ttl
            self.deregisterCriticalServiceAfter = deregisterCriticalServiceAfter
            self.advertisedAddress = advertisedAddress
            self.tags = tags
            self.watch = watch
            self.registrationWait = registrationWait
            self.minimumRetryDelay = minimumRetryDelay
            self.maximumRetryDelay = maximumRetryDelay
            self.clock = clock
            self.logger = logger
        }
    }

    /// `CORT_CONSUL_TTL`: the TTL of each registration's check, as a Go
    /// duration (`10s`, `1m30s`, `500ms`); read by ``fromEnvironment(_:logger:)``.
    public static let ttlVariable = "CORT_CONSUL_TTL"
    /// `CORT_CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER`: how long a check may
    /// stay critical before the agent removes the instance, as a Go duration
    /// (`1m`, `90s`); read by ``fromEnvironment(_:logger:)``.
    public static let deregisterCriticalServiceAfterVariable = "CORT_CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER"

    /// The configuration the backend was made with.
    public let configuration: Configuration
    let client: ConsulClient
    let clock: RuntimeClock
    let logger: Logger
    /// The tasks that register each instance and keep its check passing, by service and id.
    private let keepers = Mutex<[String: Task<Void, Never>]>([:])

    /// A backend for the agent `configuration.consul` names. Starts nothing:
    /// the client's thread starts with the first request.
    ///
    /// - Throws: `DiscoveryError` (`DiscoveryError/Code/malformedConfiguration`)
    ///   when the Consul configuration is invalid, or a duration is not positive.
    public init(configuration: Configuration = Configuration()) throws {
        for (name, value) in [("ttl", configuration.ttl),
                              ("deregisterCriticalServiceAfter", configuration.deregisterCriticalServiceAfter),
                              ("minimumRetryDelay", configuration.minimumRetryDelay)] where value <= .zero {
            throw DiscoveryError(.malformedConfiguration, "the Consul discovery's \(name) must be positive, not \(value)")
        }
        if configuration.maximumRetryDelay < configuration.minimumRetryDelay {
            throw DiscoveryError(.malformedConfiguration,
                                 "the Consul discovery's maximumRetryDelay (\(configuration.maximumRetryDelay)) is below its minimumRetryDelay (\(configuration.minimumRetryDelay))")
        }
        self.configuration = configuration
        clock = RuntimeClock(configuration.clock)
        logger = configuration.logger
        do {
            client = try ConsulClient(configuration: configuration.consul, logger: configuration.logger)
        } catch {
            throw DiscoveryError(.malformedConfiguration, "the Consul configuration is invalid: \(error.message)", cause: error)
        }
    }

    /// A backend configured the way Consul's own tools are: `CONSUL_HTTP_ADDR`,
    /// `CONSUL_HTTP_TOKEN`, `CONSUL_HTTP_TOKEN_FILE`, `CONSUL_CACERT`, ...
    /// (see ``ConsulConfiguration/fromEnvironment(_:)``), and cort's own:
    ///
    /// - `CORT_CONSUL_TTL`: the TTL of each registration's check (default `10s`);
    /// - `CORT_CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER`: how long a check may
    ///   stay critical before the agent removes the instance (default `1m`;
    ///   the agent raises anything shorter to a minute).
    ///
    /// Both are Go durations, as Consul writes them: `10s`, `1m30s`, `500ms`,
    /// `1.5h`. Empty variables count as unset.
    ///
    /// ```swift
    /// // CONSUL_HTTP_ADDR=10.0.0.2:8500 CORT_CONSUL_TTL=15s ./my-node
    /// let discovery = try ConsulDiscovery.fromEnvironment()
    /// ```
    ///
    /// - Parameters:
    ///   - environment: the variables to read; the process's environment by default.
    ///   - logger: where registrations and watches log (nowhere by default).
    /// - Throws: `DiscoveryError` (`DiscoveryError/Code/malformedConfiguration`)
    ///   naming the variable that is wrong, and its value.
    public static func fromEnvironment(
        _ environment: [String: String]? = nil,
        logger: Logger = .quiet("cort.consul")
    ) throws -> ConsulDiscovery {
        let environment = environment ?? ProcessInfo.processInfo.environment
        let consul: ConsulConfiguration
        do throws(ConsulError) {
            consul = try ConsulConfiguration.fromEnvironment(environment)
        } catch {
            throw DiscoveryError(.malformedConfiguration, error.message, cause: error)
        }
        var configuration = Configuration(consul: consul, logger: logger)
        if let ttl = try duration(ttlVariable, in: environment) { configuration.ttl = ttl }
        if let after = try duration(deregisterCriticalServiceAfterVariable, in: environment) {
            configuration.deregisterCriticalServiceAfter = after
        }
        return try ConsulDiscovery(configuration: configuration)
    }

    /// The positive Go duration in `variable`, nil when it is unset or empty.
    static func duration(_ variable: String, in environment: [String: String]) throws -> Duration? {
        guard let text = environment[variable], !text.isEmpty else { return nil }
        guard let duration = GoDuration.parse(text.trimmingCharacters(in: .whitespaces)) else {
            throw DiscoveryError(.malformedConfiguration,
                                 "\(variable)=\(text): not a duration (write it as Consul does: 10s, 1m30s, 500ms)")
        }
        guard duration > .zero else {
            throw DiscoveryError(.malformedConfiguration, "\(variable)=\(text): the duration must be positive")
        }
        return duration
    }

    deinit {
        shutdown()
    }

    /// Stops registering and passing checks and ends every request and
    /// watch; registrations are left to their TTL (deregister them first for
    /// a clean exit).
    public func shutdown() {
        for keeper in keepers.withLock({ state in defer { state = [:] }; return state.values }) { keeper.cancel() }
        client.shutdown()
    }

    // MARK: Registration

    /// Registers `instance` with the agent, and keeps it registered and its
    /// check passing until ``deregister(_:)`` or ``shutdown()``.
    ///
    /// Waits for the first attempt for at most
    /// ``Configuration/registrationWait`` (2 s by default, real time): when
    /// Consul answers in time, the instance is registered when this returns.
    /// When Consul is unreachable, too slow, answers 5xx or 429, or refuses
    /// the token (401/403), this returns all the same, logs why (a warning
    /// for an outage, an error for a refused token, once per streak), and the
    /// registration is retried in the background on the configuration's
    /// clock until Consul takes it.
    ///
    /// - Throws: `DiscoveryError` (`DiscoveryError/Code/invalidInstance`)
    ///   only for the node's own mistakes: an invalid instance, an endpoint
    ///   Consul cannot list (not `tcp://host:port`), or a registration Consul
    ///   answers with 400 (e.g. `Invalid Service Meta`) within the wait; such a
    ///   registration is not retried. (A 400 after the wait is logged at error
    ///   and retried every ``Configuration/maximumRetryDelay``; any other 4xx,
    ///   such as a proxy's 404, is retried like an outage.) `DiscoveryError/Code/unavailable`
    ///   after ``shutdown()``.
    public func register(_ instance: ServiceInstance) async throws {
        try instance.validate()
        let registration = try self.registration(for: instance)
        let key = Self.key(instance)
        let firstAttempt = FirstAttempt()
        let keeper = Task { [client, clock, logger, configuration] in
            await Self.keepRegistered(registration, firstAttempt: firstAttempt, client: client,
                                      configuration: configuration, clock: clock, logger: logger)
        }
        keepers.withLock { $0.updateValue(keeper, forKey: key) }?.cancel()
        guard let failure = await firstAttempt.outcome(within: configuration.registrationWait) else { return }
        keepers.withLock { keepers in
            if keepers[key] == keeper { keepers[key] = nil }
        }
        throw failure
    }

    /// Stops registering and passing `instance`'s check, then deregisters it
    /// (an instance the agent does not know is not an error).
    ///
    /// - Throws: `DiscoveryError` (`DiscoveryError/Code/unavailable`, or
    ///   `DiscoveryError/Code/unauthorized` for a refused token) when the
    ///   agent does not take the deregistration; the check then expires.
    public func deregister(_ instance: ServiceInstance) async throws {
        if let keeper = keepers.withLock({ $0.removeValue(forKey: Self.key(instance)) }) {
            keeper.cancel()
            // Its attempt in flight is abandoned before the deregistration goes out.
            await keeper.value
        }
        do {
            try await client.deregister(serviceID: instance.id)
        } catch let error where error.status == 404 {
            // Already gone (the agent restarted, the reaper removed it, or it was never registered).
        } catch {
            throw Self.discoveryError(error, agent: configuration.consul.endpoint,
                                      doing: "cannot deregister \(instance.id) from Consul")
        }
        logger.debug("deregistered from Consul", metadata: ["cort.service": "\(instance.service)", "cort.instance.id": "\(instance.id)"])
    }

    private static func key(_ instance: ServiceInstance) -> String { "\(instance.service) \(instance.id)" }

    /// What Consul is told of `instance`: its endpoint as an address and a port.
    func registration(for instance: ServiceInstance) throws -> ConsulServiceRegistration {
        guard let (host, port) = Self.hostAndPort(instance.endpoint) else {
            throw DiscoveryError(.invalidInstance,
                                 "\(instance.id): Consul lists tcp://host:port endpoints only, not \(instance.endpoint)")
        }
        let wildcard = host == "*" || host == "0.0.0.0" || host == "::"
        return ConsulServiceRegistration(
            id: instance.id, name: instance.service,
            address: wildcard ? configuration.advertisedAddress : host, port: port,
            tags: instance.tags + configuration.tags,
            meta: instance.metadata.merging(["cort_protocol": "\(WireFormat.version)"]) { own, _ in own },
            check: .init(ttl: configuration.ttl,
                         deregisterCriticalServiceAfter: configuration.deregisterCriticalServiceAfter,
                         initialStatus: .passing))
    }

    /// `tcp://host:port` (or `tcp://[v6]:port`) split, or nil.
    static func hostAndPort(_ endpoint: String) -> (host: String, port: Int)? {
        guard endpoint.hasPrefix("tcp://") else { return nil }
        let rest = endpoint.dropFirst("tcp://".count)
        guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = String(rest[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return host.isEmpty ? nil : (host, port)
    }

    // MARK: Watching

    /// The passing instances of `service` cort can call, sorted by id: the
    /// current list first, then a new one on every change (an index that
    /// goes back starts the watch over; an answer with the same list is not
    /// a change).
    ///
    /// The first failed query ends the stream by throwing a
    /// `DiscoveryError` whose message is Consul's answer:
    /// `DiscoveryError/Code/unauthorized` for 401 and 403 (`Consul answered
    /// 403: Permission denied`), `DiscoveryError/Code/unavailable` for
    /// anything else (`Consul answered 500: No cluster leader`, `Consul at
    /// http://127.0.0.1:8500 is unreachable: …`). The caller keeps its last
    /// list and watches again (a `ServiceDirectory` does). The stream ends
    /// without an error when the consumer stops or the backend is shut down.
    public func watch(service: String) -> AsyncThrowingStream<[ServiceInstance], any Error> {
        let watch = makeWatch(service: service, clock: configuration.clock)
        let logger = logger
        let agent = configuration.consul.endpoint
        return AsyncThrowingStream { continuation in
            let task = Task {
                var updates = watch.makeAsyncIterator()
                do throws(ConsulError) {
                    while let update = try await updates.nextUpdate() {
                        continuation.yield(Self.instances(from: update.instances, logger: logger))
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: Self.discoveryError(error, agent: agent))
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func makeWatch<C: Clock<Duration>>(service: String, clock: C) -> HealthWatch {
        client.healthWatch(service: service, configuration: configuration.watch, clock: clock)
    }

    /// The instances cort can call, sorted by id: a tcp endpoint made of the
    /// address and port, and the same protocol version (or none said).
    static func instances(from listed: [ConsulServiceInstance], logger: Logger) -> [ServiceInstance] {
        var instances: [ServiceInstance] = []
        for entry in listed {
            if let version = entry.meta["cort_protocol"], version != "\(WireFormat.version)" {
                logger.debug("skipping an instance of another protocol version", metadata: [
                    "cort.instance.id": "\(entry.id)", "cort.protocol": "\(version)"])
                continue
            }
            let host = entry.address.contains(":") ? "[\(entry.address)]" : entry.address
            let instance = ServiceInstance(service: entry.service, id: entry.id, endpoint: "tcp://\(host):\(entry.port)",
                                           tags: entry.tags, metadata: entry.meta)
            do {
                try instance.validate()
                instances.append(instance)
            } catch {
                logger.debug("skipping an instance cort cannot call", metadata: ["cort.instance.id": "\(entry.id)", "cort.error": "\(error)"])
            }
        }
        return instances.sorted { $0.id < $1.id }
    }
}
