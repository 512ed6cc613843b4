import CortConsul
import Logging
import Synchronization

/// Discovery through a Consul agent: the backend for services that span
/// machines.
///
/// - ``register(_:)`` registers the instance with the local agent (its ID,
///   name, address and port, tags, and `cort_protocol` in its meta) with a TTL
///   check that starts passing, then passes the check every third of its TTL
///   for as long as the instance is registered. When the agent has forgotten
///   the instance (it restarted: a pass answers 404, or an old agent's 500),
///   it registers again. ``deregister(_:)`` (called by a node's drain)
///   deregisters it.
/// - ``watch(service:)`` follows the passing instances of a service with
///   blocking queries (`?passing&stale`). An outage ends nothing: the watch
///   retries with backoff, the callers keep the last good list, and both the
///   registrations and the watches come back by themselves.
///
/// A node is used only when Consul lists it as passing *and* it answers the
/// caller's heartbeats; Consul's TTL removes a dead node later than the
/// heartbeats do, so a caller stops sending to it first.
///
/// ```swift
/// // CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, ... as Consul's own tools read them
/// let discovery = try ConsulDiscovery(configuration: .init(consul: .fromEnvironment()))
/// let node = try CortSystem.start(.init(name: "node-a", discovery: discovery, endpoint: "tcp://10.0.0.5:5555"))
/// try await node.host("greeter", replicas: 4) { Greeter(actorSystem: $0) }
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
        /// The clock of the TTL passes and the watches' pacing.
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
            clock: any Clock<Duration> = ContinuousClock(),
            logger: Logger = Logger(label: "cort.consul")
        ) {
            self.consul = consul
            self.ttl = ttl
            self.deregisterCriticalServiceAfter = deregisterCriticalServiceAfter
            self.advertisedAddress = advertisedAddress
            self.tags = tags
            self.watch = watch
            self.clock = clock
            self.logger = logger
        }
    }

    /// The configuration the backend was made with.
    public let configuration: Configuration
    let client: ConsulClient
    private let clock: RuntimeClock
    private let logger: Logger
    /// The tasks that keep each registration's check passing, by service and id.
    private let keepers = Mutex<[String: Task<Void, Never>]>([:])

    /// A backend for the agent `configuration.consul` names. Starts nothing:
    /// the client's thread starts with the first request.
    ///
    /// - Throws: ``DiscoveryError`` (``DiscoveryError/Code/malformedConfiguration``)
    ///   when the Consul configuration is invalid.
    public init(configuration: Configuration = Configuration()) throws {
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
    ///
    /// - Throws: ``DiscoveryError`` (``DiscoveryError/Code/malformedConfiguration``)
    ///   naming the variable that is wrong.
    public static func fromEnvironment(
        _ environment: [String: String]? = nil, logger: Logger = Logger(label: "cort.consul")
    ) throws -> ConsulDiscovery {
        let consul: ConsulConfiguration
        do throws(ConsulError) {
            if let environment {
                consul = try ConsulConfiguration.fromEnvironment(environment)
            } else {
                consul = try ConsulConfiguration.fromEnvironment()
            }
        } catch {
            throw DiscoveryError(.malformedConfiguration, error.message, cause: error)
        }
        return try ConsulDiscovery(configuration: Configuration(consul: consul, logger: logger))
    }

    deinit {
        shutdown()
    }

    /// Stops passing checks and ends every request and watch; registrations
    /// are left to their TTL (deregister them first for a clean exit).
    public func shutdown() {
        for keeper in keepers.withLock({ state in defer { state = [:] }; return state.values }) { keeper.cancel() }
        client.shutdown()
    }

    // MARK: Registration

    public func register(_ instance: ServiceInstance) async throws {
        try instance.validate()
        let registration = try self.registration(for: instance)
        do {
            try await client.register(registration)
        } catch {
            throw DiscoveryError(.unavailable, "cannot register \(instance.id) with Consul: \(error.message)", cause: error)
        }
        logger.info("registered with Consul", metadata: ["service": "\(instance.service)", "id": "\(instance.id)"])
        let key = Self.key(instance)
        let keeper = Task { [client, clock, logger, ttl = configuration.ttl] in
            await Self.keepPassing(registration, client: client, every: ttl / 3, clock: clock, logger: logger)
        }
        keepers.withLock { $0.updateValue(keeper, forKey: key) }?.cancel()
    }

    public func deregister(_ instance: ServiceInstance) async throws {
        keepers.withLock { $0.removeValue(forKey: Self.key(instance)) }?.cancel()
        do {
            try await client.deregister(serviceID: instance.id)
        } catch let error where error.status == 404 {
            // Already gone (the agent restarted, or the reaper removed it).
        } catch {
            throw DiscoveryError(.unavailable, "cannot deregister \(instance.id) from Consul: \(error.message)", cause: error)
        }
        logger.info("deregistered from Consul", metadata: ["service": "\(instance.service)", "id": "\(instance.id)"])
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

    /// Passes the check every `interval` until cancelled; registers again when
    /// the agent forgot the instance. Logs the first failure of a run of
    /// failures and the recovery, nothing in between.
    private static func keepPassing(_ registration: ConsulServiceRegistration, client: ConsulClient,
                                    every interval: Duration, clock: RuntimeClock, logger: Logger) async {
        guard let checkID = registration.checkID else { return }
        let id = registration.id ?? registration.name
        var failing = false
        var next = clock.now + interval
        while !Task.isCancelled {
            do {
                try await clock.sleep(until: next)
            } catch {
                return
            }
            next = clock.now + interval
            do {
                do {
                    try await client.passTTL(checkID: checkID)
                } catch let error where error.requiresRegistration {
                    logger.notice("Consul forgot the instance; registering it again", metadata: ["id": "\(id)"])
                    try await client.register(registration)
                }
                if failing {
                    logger.notice("Consul answers again; the instance is registered and passing", metadata: ["id": "\(id)"])
                    failing = false
                }
            } catch let error where error.code == .cancelled || error.code == .shutDown {
                return
            } catch {
                if !failing {
                    logger.warning("cannot pass the TTL check; retrying every \(interval)", metadata: [
                        "id": "\(id)", "error": "\(error)"])
                    failing = true
                }
            }
        }
    }

    // MARK: Watching

    public func watch(service: String) -> AsyncThrowingStream<[ServiceInstance], any Error> {
        let watch = makeWatch(service: service, clock: configuration.clock)
        let logger = logger
        return AsyncThrowingStream { continuation in
            let task = Task {
                for await update in watch {
                    continuation.yield(Self.instances(from: update.instances, logger: logger))
                }
                continuation.finish()
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
                    "id": "\(entry.id)", "cort_protocol": "\(version)"])
                continue
            }
            let host = entry.address.contains(":") ? "[\(entry.address)]" : entry.address
            let instance = ServiceInstance(service: entry.service, id: entry.id, endpoint: "tcp://\(host):\(entry.port)",
                                           tags: entry.tags, metadata: entry.meta)
            do {
                try instance.validate()
                instances.append(instance)
            } catch {
                logger.debug("skipping an instance cort cannot call", metadata: ["id": "\(entry.id)", "error": "\(error)"])
            }
        }
        return instances.sorted { $0.id < $1.id }
    }
}
