import CoreMetrics

/// Records the calls a node runs through swift-metrics: how many, by
/// service, method and how they ended; how long their methods took (with
/// the interceptors inside this one); how long they waited in the node's
/// queue. What the node refuses before a call reaches its interceptors
/// (a full queue, a caller that may not call) is recorded by the node
/// itself, to ``CortSystem/Configuration/metricsFactory``.
/// docs/OBSERVABILITY.md lists the metrics.
///
/// It records to the factory it is given, else to the one the program
/// bootstrapped (`MetricsSystem.factory`, read at each call); when neither
/// is set it records nothing and costs one look-up per call. cort never
/// bootstraps a backend.
///
/// ```swift
/// let node = try CortSystem.start(.init(
///     name: "node-a", discovery: discovery, endpoint: "tcp://0.0.0.0:7000",
///     serverInterceptors: [MetricsServerInterceptor()]))
/// ```
///
/// Put it first (outermost) to count the calls other interceptors refuse.
/// Metric objects are made once per service and method and kept, up to
/// 1,024 of each; calls to further ones are counted under `other`.
public struct MetricsServerInterceptor: ServerInterceptor, BuiltInInterceptor {
    private struct MethodMetrics: Sendable {
        let queueTime: Timer
        let duration: Timer
        let outcomes: OutcomeCounters
    }

    private let factory: (any MetricsFactory)?
    private let tables = ServiceMethodTables<Timer, MethodMetrics>()

    /// Creates the interceptor.
    ///
    /// - Parameter factory: where to record; nil records to the factory the
    ///   program bootstrapped, if any, as each call starts.
    public init(factory: (any MetricsFactory)? = nil) {
        self.factory = factory
    }

    /// Whether a metrics backend is there to record to (the no-op one is not).
    var isActive: Bool { CallMetrics.factory(factory) != nil }

    /// Records `call`'s time in the queue, then how `next` ended and how long it took.
    public func intercept(_ call: ServerCall,
                          next: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult {
        guard let factory = CallMetrics.factory(factory) else { return try await next(call) }
        let metrics = self.metrics(service: call.context.service, method: call.context.method, factory: factory)
        metrics.queueTime.recordNanoseconds(call.queued.metricNanoseconds)
        let start = ContinuousClock.now
        do {
            let result = try await next(call)
            record(metrics, code: result.code, since: start)
            return result
        } catch let error as RemoteCallError {
            // An interceptor inside refused it: it is answered with this code.
            record(metrics, code: error.code, since: start)
            throw error
        } catch {
            // Answered as `remoteApplicationError`, as whatever else an interceptor throws.
            record(metrics, code: .remoteApplicationError, since: start)
            throw error
        }
    }

    private func record(_ metrics: MethodMetrics, code: RemoteCallError.Code?, since start: ContinuousClock.Instant) {
        metrics.duration.recordNanoseconds(start.duration(to: .now).metricNanoseconds)
        metrics.outcomes.count(code)
    }

    private func metrics(service: String, method: String, factory: any MetricsFactory) -> MethodMetrics {
        tables.value(service: service, method: method, factory: factory, makeService: { service in
            Timer(label: CallMetrics.serverQueueTime, dimensions: [(CallMetrics.service, service)], factory: factory)
        }, makeMethod: { queueTime, service, method in
            MethodMetrics(
                queueTime: queueTime,
                duration: Timer(label: CallMetrics.serverCallDuration,
                                dimensions: [(CallMetrics.service, service), (CallMetrics.method, method)],
                                factory: factory),
                outcomes: OutcomeCounters(label: CallMetrics.serverCalls, service: service, method: method,
                                          factory: factory))
        })
    }
}
