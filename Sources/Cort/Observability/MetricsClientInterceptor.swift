import CoreMetrics

/// Records the calls a system makes through swift-metrics: how many, by
/// service, method and how they ended; how long they took; how many are in
/// flight; how many moved to another node, and how many attempts a node
/// refused as `overloaded`. docs/OBSERVABILITY.md lists the metrics.
///
/// It records to the factory it is given, else to the one the program
/// bootstrapped (`MetricsSystem.factory`, read at each call); when neither
/// is set it records nothing and costs one look-up per call. cort never
/// bootstraps a backend.
///
/// ```swift
/// let caller = try CortSystem.start(.init(
///     name: "caller", discovery: discovery,
///     clientInterceptors: [MetricsClientInterceptor()]))
/// ```
///
/// Metric objects are made once per service and method and kept, up to
/// 1,024 of each; calls to further ones are counted under `other`.
public struct MetricsClientInterceptor: ClientInterceptor, BuiltInInterceptor {
    private struct ServiceMetrics: Sendable {
        let inFlight: Meter
        let failovers: Counter
        let overloaded: Counter
    }

    private struct MethodMetrics: Sendable {
        let service: ServiceMetrics
        let duration: Timer
        let outcomes: OutcomeCounters
    }

    private let factory: (any MetricsFactory)?
    private let tables = ServiceMethodTables<ServiceMetrics, MethodMetrics>()

    /// Creates the interceptor.
    ///
    /// - Parameter factory: where to record; nil records to the factory the
    ///   program bootstrapped, if any, as each call starts.
    public init(factory: (any MetricsFactory)? = nil) {
        self.factory = factory
    }

    /// Whether a metrics backend is there to record to (the no-op one is not).
    var isActive: Bool { CallMetrics.factory(factory) != nil }

    /// Records `call`: in flight while `next` runs, then its outcome, its
    /// duration, and its attempts.
    public func intercept(_ call: ClientCall,
                          next: (ClientCall) async throws -> ClientCallResult) async throws -> ClientCallResult {
        guard let factory = CallMetrics.factory(factory) else { return try await next(call) }
        let metrics = self.metrics(service: call.service, method: call.method, factory: factory)
        metrics.service.inFlight.increment()
        let start = ContinuousClock.now
        do {
            let result = try await next(call)
            record(metrics, code: nil, attempts: result.attempts, since: start)
            return result
        } catch let error as RemoteCallError {
            record(metrics, code: error.code, attempts: error.attempts, since: start)
            throw error
        } catch is CancellationError {
            record(metrics, code: .cancelled, attempts: [], since: start)
            throw CancellationError()
        } catch {
            // A registered error the method threw, rethrown as itself.
            record(metrics, code: .remoteApplicationError, attempts: [], since: start)
            throw error
        }
    }

    private func record(_ metrics: MethodMetrics, code: RemoteCallError.Code?, attempts: [CallAttempt],
                        since start: ContinuousClock.Instant) {
        metrics.duration.recordNanoseconds(start.duration(to: .now).metricNanoseconds)
        metrics.service.inFlight.decrement()
        metrics.outcomes.count(code)
        if attempts.count > 1 { metrics.service.failovers.increment(by: attempts.count - 1) }
        // A plain loop: Swift 6.3.1's optimizer crashes on the `reduce` with a
        // closure reading `outcome.code` here ("Found outside of lifetime use").
        var overloaded = 0
        for attempt in attempts where attempt.outcome.isOverloaded { overloaded += 1 }
        if overloaded > 0 { metrics.service.overloaded.increment(by: overloaded) }
    }

    private func metrics(service: String, method: String, factory: any MetricsFactory) -> MethodMetrics {
        tables.value(service: service, method: method, factory: factory, makeService: { service in
            let dimensions = [(CallMetrics.service, service)]
            return ServiceMetrics(
                inFlight: Meter(label: CallMetrics.clientCallsInFlight, dimensions: dimensions, factory: factory),
                failovers: Counter(label: CallMetrics.clientFailovers, dimensions: dimensions, factory: factory),
                overloaded: Counter(label: CallMetrics.clientOverloaded, dimensions: dimensions, factory: factory))
        }, makeMethod: { serviceMetrics, service, method in
            MethodMetrics(
                service: serviceMetrics,
                duration: Timer(label: CallMetrics.clientCallDuration,
                                dimensions: [(CallMetrics.service, service), (CallMetrics.method, method)],
                                factory: factory),
                outcomes: OutcomeCounters(label: CallMetrics.clientCalls, service: service, method: method,
                                          factory: factory))
        })
    }
}
