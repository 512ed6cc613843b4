import Cort

extension DiscoveryEnvironment.Backend {
    /// Consul, for `DiscoveryEnvironment.discovery(_:backends:)`: chosen by
    /// `CORT_DISCOVERY=consul`, or without `CORT_DISCOVERY` when
    /// `CONSUL_HTTP_ADDR` is set, and made by
    /// ``ConsulDiscovery/fromEnvironment(_:logger:)`` (`CONSUL_HTTP_ADDR`,
    /// `CONSUL_HTTP_TOKEN`, ... as Consul's own tools read them, and
    /// `CORT_CONSUL_TTL`, `CORT_CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER`).
    ///
    /// ```swift
    /// // CONSUL_HTTP_ADDR=127.0.0.1:8500 ./my-node   (or CORT_STATIC_SERVICES=..., or nothing: local)
    /// let discovery = try DiscoveryEnvironment.discovery(backends: [.consul])
    /// ```
    public static let consul = DiscoveryEnvironment.Backend(name: "consul", selectingVariable: "CONSUL_HTTP_ADDR") {
        try ConsulDiscovery.fromEnvironment($0)
    }
}
