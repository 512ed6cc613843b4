import Instrumentation
import Tracing

/// Traces every call a system makes: a client span per call, whose trace
/// context travels to the node in the call's metadata.
///
/// The span is named after the method (`Greeter.hello(name:)`), is a child
/// of the task's `ServiceContext` (so a call made inside a traced method
/// continues its trace), and carries `rpc.system` (`cort`), `rpc.service`
/// and `rpc.method`. Each attempt the call made is an `attempt` event, at
/// the time it started, with the node (`rpc.cort.node`), what happened
/// (`rpc.cort.outcome`, and `rpc.cort.code` for an answered error), and
/// its `rpc.cort.duration_ms`: a failover shows as a second attempt. A call
/// that fails records the error and ends with status error and
/// `rpc.cort.code`.
///
/// The tracer injects its context (a W3C tracer: `traceparent`) into
/// ``ClientCall/metadata``; a ``TracingServerInterceptor`` on the node
/// continues the trace. Interceptors inside this one run in the span's
/// context. Without a tracer given, it uses the one bootstrapped in
/// `InstrumentationSystem`, read at each call, and does nothing while that
/// is the no-op tracer.
///
/// ```swift
/// InstrumentationSystem.bootstrap(otelTracer)   // swift-otel, once, at startup
/// let system = try CortSystem.start(.init(
///     name: "orders", discovery: discovery,
///     clientInterceptors: [TracingClientInterceptor()],
///     serverInterceptors: [TracingServerInterceptor()]))
/// ```
public struct TracingClientInterceptor: ClientInterceptor, BuiltInInterceptor {
    let tracer: (any Tracer)?

    /// Creates the interceptor.
    ///
    /// - Parameter tracer: the tracer to use; nil (the default) for the one
    ///   bootstrapped in `InstrumentationSystem`, read at each call.
    public init(tracer: (any Tracer)? = nil) {
        self.tracer = tracer
    }

    /// Whether a tracer is there to record to (the no-op tracer is not).
    var isActive: Bool { CallTracing.tracer(tracer) != nil }

    /// Makes the call inside a client span and puts its trace context in the call's metadata.
    public func intercept(_ call: ClientCall,
                          next: (ClientCall) async throws -> ClientCallResult) async throws -> ClientCallResult {
        guard let tracer = CallTracing.tracer(tracer) else { return try await next(call) }
        return try await trace(call, with: tracer, next: next)
    }

    private func trace(_ call: ClientCall, with tracer: some Tracer,
                       next: (ClientCall) async throws -> ClientCallResult) async throws -> ClientCallResult {
        let started = DefaultTracerClock.now
        let span = tracer.startSpan(call.method, context: ServiceContext.current ?? .topLevel, ofKind: .client,
                                    at: started)
        defer { span.end() }
        span.updateAttributes { $0.merge(CallTracing.callAttributes(service: call.service, method: call.method)) }
        var traced = call
        tracer.inject(span.context, into: &traced.metadata, using: CallTracing.MetadataInjector())
        let sent = traced
        do {
            let result = try await ServiceContext.withValue(span.context) { try await next(sent) }
            Self.record(result.attempts, on: span, since: started)
            return result
        } catch {
            span.recordError(error)
            if let error = error as? RemoteCallError {
                Self.record(error.attempts, on: span, since: started)
                CallTracing.fail(span, code: error.code)
            } else {
                span.setStatus(SpanStatus(code: .error))
            }
            throw error
        }
    }

    /// Adds an `attempt` event per attempt, at the time it started.
    private static func record(_ attempts: [CallAttempt], on span: some Span, since started: DefaultTracerClock.Instant) {
        for (index, attempt) in attempts.enumerated() {
            var attributes = SpanAttributes()
            attributes[CallTracing.attemptNumber] = index + 1
            attributes[CallTracing.attemptNode] = attempt.node
            attributes[CallTracing.attemptOutcome] = "\(attempt.outcome)"
            if let code = attempt.outcome.code {
                attributes[CallTracing.code] = "\(code)"
            }
            attributes[CallTracing.attemptStartedAfter] = CallTracing.milliseconds(attempt.startedAfter)
            attributes[CallTracing.attemptDuration] = CallTracing.milliseconds(attempt.duration)
            span.addEvent(SpanEvent(name: CallTracing.attemptEvent,
                                    at: CallTracing.instant(attempt.startedAfter, after: started),
                                    attributes: attributes))
        }
    }
}
