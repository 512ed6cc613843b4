import CoreMetrics

/// What cort's metrics share: their names and dimensions (one table of them
/// in docs/OBSERVABILITY.md), the factory they are made with, and the value
/// a call's outcome code has as a dimension.
///
/// cort never bootstraps a metrics backend. Its metrics go to the factory a
/// program passes (``MetricsClientInterceptor/init(factory:)``,
/// ``CortSystem/Configuration/metricsFactory``), else to the one the program
/// bootstrapped (`MetricsSystem.factory`); with neither, nothing is made and
/// nothing is recorded.
enum CallMetrics {
    // MARK: Names

    static let clientCalls = "cort_client_calls_total"
    static let clientCallDuration = "cort_client_call_duration_seconds"
    static let clientCallsInFlight = "cort_client_calls_in_flight"
    static let clientFailovers = "cort_client_failovers_total"
    static let clientOverloaded = "cort_client_overloaded_total"
    static let clientNodeStateChanges = "cort_client_node_state_changes_total"

    static let serverCalls = "cort_server_calls_total"
    static let serverCallDuration = "cort_server_call_duration_seconds"
    static let serverQueueTime = "cort_server_queue_seconds"
    static let serverQueueDepth = "cort_server_queue_depth"
    static let serverBusyReplicas = "cort_server_busy_replicas"
    static let serverRefused = "cort_server_refused_total"
    static let serverAbandoned = "cort_server_abandoned_total"
    static let serverDenied = "cort_server_denied_total"
    static let serverBadFrames = "cort_server_bad_frames_total"

    // MARK: Dimensions

    static let service = "service"
    static let method = "method"
    static let code = "code"
    static let reason = "reason"
    static let kind = "kind"
    static let state = "state"

    /// The value every dimension takes once a table of metrics is full
    /// (``MetricsTable``): the series beyond the bound are summed under it.
    static let other = "other"
    /// The `service` of calls to actor instances (references handed out by
    /// a node), which belong to no hosted service, and of a caller's direct
    /// connection to such a node.
    static let instances = "_instances"
    /// The `service` of a node's refusals made before it knew the call's service.
    static let node = "_node"

    /// The `code` of a call that returned a value.
    static let ok = "ok"

    /// How many series of one kind an interceptor keeps (per service, per
    /// method); beyond it, new ones are counted under ``other``.
    static let tableCapacity = 1024

    // MARK: Factory

    /// The factory to record with now: `explicit`, else the active one (a
    /// `withMetricsFactory` scope's, else the bootstrapped one); nil when that
    /// is swift-metrics' no-op handler (nothing bootstrapped), so a program
    /// without metrics pays one look-up per call.
    static func factory(_ explicit: (any MetricsFactory)?) -> (any MetricsFactory)? {
        let factory = explicit ?? MetricsSystem.factory
        // A comparison of type identities (the no-op factory is a final
        // class), not a dynamic cast on every call.
        return type(of: factory) == NOOPMetricsHandler.self ? nil : factory
    }

    /// The `code` dimension of an outcome: ``ok``, or the code's name in
    /// snake_case (`deadline_exceeded`, `remote_application_error`).
    static func codeValue(_ code: RemoteCallError.Code?) -> String {
        guard let code else { return ok }
        return String(code.description.map { $0 == " " ? "_" : $0 })
    }
}

/// Tells metrics factories apart, to keep metric objects per factory: a
/// factory read at call time (`MetricsSystem.factory`) may change.
///
/// A class factory is itself; the metric objects made with it hold it, so
/// its identifier is not reused while a table keeps them. A factory that is
/// a value is told apart by its type only.
struct MetricsFactoryID: Hashable, Sendable {
    private let id: ObjectIdentifier

    init(_ factory: any MetricsFactory) {
        if type(of: factory) is AnyClass {
            id = ObjectIdentifier(factory as AnyObject)
        } else {
            id = ObjectIdentifier(type(of: factory))
        }
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating), as timers record it.
    var metricNanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return whole.addingReportingOverflow(attoseconds / 1_000_000_000).overflow
            ? .max : whole + attoseconds / 1_000_000_000
    }
}

/// A key of a table of metric objects per service: the factory they record
/// to, and the service.
struct MetricsServiceKey: Hashable, Sendable {
    let factory: MetricsFactoryID
    let service: String
}

/// A key of a table of metric objects per method: the factory they record
/// to, the service and the method.
struct MetricsMethodKey: Hashable, Sendable {
    let factory: MetricsFactoryID
    let service: String
    let method: String
}
