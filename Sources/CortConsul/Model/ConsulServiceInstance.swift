/// One instance of a service, as the health endpoint lists it (one entry of
/// `GET /v1/health/service/<name>`).
///
/// ``address`` already follows Consul's rule: an instance registered without an address
/// is reached at its node's address.
///
/// ```swift
/// let answer = try await client.healthService("greeter")
/// for instance in answer.value {
///     print(instance.id, "\(instance.address):\(instance.port)", instance.meta["cort_protocol"] ?? "-")
/// }
/// ```
public struct ConsulServiceInstance: Sendable, Hashable {
    /// The instance's service ID.
    public var id: String
    /// The service's name.
    public var service: String
    /// Where to reach the instance: its own address, or its node's when it has none.
    public var address: String
    /// The instance's port.
    public var port: Int
    /// The instance's tags.
    public var tags: [String]
    /// The instance's metadata.
    public var meta: [String: String]
    /// The name of the node (agent) the instance is registered on.
    public var node: String
    /// The node's address.
    public var nodeAddress: String
    /// The node's datacenter, when the answer names it.
    public var datacenter: String?
    /// The checks of the instance and its node (`serfHealth` included).
    public var checks: [ConsulHealthCheck]

    /// An instance, for tests and for code that builds lists by hand.
    public init(
        id: String, service: String, address: String, port: Int, tags: [String] = [],
        meta: [String: String] = [:], node: String = "", nodeAddress: String = "",
        datacenter: String? = nil, checks: [ConsulHealthCheck] = []
    ) {
        self.id = id
        self.service = service
        self.address = address
        self.port = port
        self.tags = tags
        self.meta = meta
        self.node = node
        self.nodeAddress = nodeAddress
        self.datacenter = datacenter
        self.checks = checks
    }

    /// The worst status among the instance's checks (`passing` when it has none).
    public var aggregatedStatus: ConsulCheckStatus {
        let statuses = Set(checks.map(\.status))
        if statuses.contains(.critical) { return .critical }
        if let other = statuses.first(where: { $0 != .passing && $0 != .warning }) { return other }
        if statuses.contains(.warning) { return .warning }
        return .passing
    }
}

/// One health check in a health answer.
public struct ConsulHealthCheck: Sendable, Hashable {
    /// The check's ID (e.g. `serfHealth`, `service:greeter-7f3a`).
    public var id: String
    /// The check's name.
    public var name: String
    /// The check's status.
    public var status: ConsulCheckStatus
    /// The check's output (for a TTL check: the last note).
    public var output: String
    /// The service the check belongs to; empty for a node check.
    public var serviceID: String

    /// A check.
    public init(id: String, name: String = "", status: ConsulCheckStatus, output: String = "", serviceID: String = "") {
        self.id = id
        self.name = name
        self.status = status
        self.output = output
        self.serviceID = serviceID
    }
}
