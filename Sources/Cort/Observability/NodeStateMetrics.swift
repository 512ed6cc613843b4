import CoreMetrics

/// A caller's count of the state changes of the nodes of one service
/// (`cort_client_node_state_changes_total`), made once per remote service.
struct NodeStateMetrics: Sendable {
    /// A node's new state (the `state` dimension).
    enum State: String, Sendable, CaseIterable {
        /// It answered for the first time: it takes calls.
        case connected
        /// It answers again after it was declared dead.
        case revived
        /// It failed (silent, its connection gone, restarted): its calls in flight were settled.
        case dead
        /// It said it is shutting down: it takes no new calls.
        case draining
    }

    private let counters: [State: Counter]

    /// The counters for `service` on `factory` (nil: the bootstrapped one),
    /// or nil when there is none to record to.
    init?(service: String, factory explicit: (any MetricsFactory)?) {
        guard let factory = CallMetrics.factory(explicit) else { return nil }
        var counters: [State: Counter] = [:]
        for state in State.allCases {
            counters[state] = Counter(label: CallMetrics.clientNodeStateChanges, dimensions: [
                (CallMetrics.service, service), (CallMetrics.state, state.rawValue)], factory: factory)
        }
        self.counters = counters
    }

    /// Counts a node that changed to `state`.
    func changed(to state: State) {
        counters[state]?.increment()
    }
}
