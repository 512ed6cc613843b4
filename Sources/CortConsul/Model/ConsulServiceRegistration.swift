/// A service to register with the local agent (`PUT /v1/agent/service/register`), with the
/// TTL check that keeps it listed while its owner is alive.
///
/// ```swift
/// let registration = ConsulServiceRegistration(
///     id: "greeter-7f3a", name: "greeter", address: "10.0.0.5", port: 5555,
///     tags: ["v1"], meta: ["cort_protocol": "1"],
///     check: .init(ttl: .seconds(10), deregisterCriticalServiceAfter: .seconds(60)))
/// try await client.register(registration)
/// try await client.passTTL(checkID: registration.checkID!)
/// ```
public struct ConsulServiceRegistration: Sendable, Hashable {
    /// A TTL check: the service's owner must pass it within every ``ttl``.
    public struct TTLCheck: Sendable, Hashable {
        /// How long a pass counts; after that the check turns critical.
        public var ttl: Duration
        /// How long the check may stay critical before the agent removes the service
        /// (the agent raises it to at least a minute). Without it a crashed node stays
        /// listed, critical, forever.
        public var deregisterCriticalServiceAfter: Duration?
        /// The check's status right after registration; Consul's default is critical.
        public var initialStatus: ConsulCheckStatus?
        /// The check's ID; Consul's default is `service:<service ID>`.
        public var id: String?
        /// The check's name; Consul's default is `Service '<name>' check`.
        public var name: String?
        /// Free text shown with the check.
        public var notes: String?

        /// A TTL check.
        public init(
            ttl: Duration,
            deregisterCriticalServiceAfter: Duration? = .seconds(60),
            initialStatus: ConsulCheckStatus? = nil,
            id: String? = nil,
            name: String? = nil,
            notes: String? = nil
        ) {
            self.ttl = ttl
            self.deregisterCriticalServiceAfter = deregisterCriticalServiceAfter
            self.initialStatus = initialStatus
            self.id = id
            self.name = name
            self.notes = notes
        }
    }

    /// The instance's ID, unique on the agent; Consul uses ``name`` when it is `nil`.
    public var id: String?
    /// The service's name (required).
    public var name: String
    /// The address callers should use; empty or `nil` means the node's address.
    public var address: String?
    /// The port callers should use.
    public var port: Int?
    /// Tags, for filtering (`?tag=`).
    public var tags: [String]
    /// Metadata; keys may hold only letters, digits, `_` and `-`.
    public var meta: [String: String]
    /// The TTL check, if any.
    public var check: TTLCheck?

    /// A registration.
    public init(
        id: String? = nil,
        name: String,
        address: String? = nil,
        port: Int? = nil,
        tags: [String] = [],
        meta: [String: String] = [:],
        check: TTLCheck? = nil
    ) {
        self.id = id
        self.name = name
        self.address = address
        self.port = port
        self.tags = tags
        self.meta = meta
        self.check = check
    }

    /// The ID of the registered TTL check: its own ID, or the one Consul gives it
    /// (`service:<ID>`); `nil` without a check.
    public var checkID: String? {
        guard let check else { return nil }
        return check.id ?? "service:\(id ?? name)"
    }
}
