extension DiscoveryEnvironment {
    /// A discovery backend that ``DiscoveryEnvironment/discovery(_:backends:)``
    /// can choose, provided by a module other than Cort (CortConsul's
    /// `.consul`) or by a program of its own.
    ///
    /// ```swift
    /// let etcd = DiscoveryEnvironment.Backend(name: "etcd", selectingVariable: "ETCD_ENDPOINTS") { environment in
    ///     try EtcdDiscovery(endpoints: environment["ETCD_ENDPOINTS"] ?? "")
    /// }
    /// let discovery = try DiscoveryEnvironment.discovery(backends: [.consul, etcd])
    /// ```
    public struct Backend: Sendable {
        /// The name `CORT_DISCOVERY` chooses it by (compared without case).
        public var name: String
        /// A variable that chooses this backend when `CORT_DISCOVERY` is not
        /// set and the variable is not empty (`CONSUL_HTTP_ADDR` for Consul);
        /// nil when only `CORT_DISCOVERY` chooses it.
        public var selectingVariable: String?
        /// Makes the backend from the environment; throws ``DiscoveryError``
        /// naming the variable that is missing or wrong.
        public var make: @Sendable ([String: String]) throws -> any Discovery

        /// A backend named `name`, made by `make` from the environment.
        public init(name: String, selectingVariable: String? = nil,
                    make: @escaping @Sendable ([String: String]) throws -> any Discovery) {
            self.name = name
            self.selectingVariable = selectingVariable
            self.make = make
        }
    }
}
