import Instrumentation
import Tracing

/// Traces every call a node runs: a server span per execution, continuing
/// the trace the caller's ``TracingClientInterceptor`` sent in the call's
/// metadata.
///
/// The span is named after the method (`Greeter.hello(name:)`), carries
/// `rpc.system` (`cort`), `rpc.service`, `rpc.method` and the time the call
/// waited in the node's queue (`rpc.cort.queued_ms`; the span itself starts
/// when the call leaves the queue). The method runs with the span's
/// context as its `ServiceContext`, so the calls it makes are children of
/// this span and its own spans nest under it. A call answered with an error
/// (the method threw, or an interceptor inside this one refused it)
/// records the error and ends with status error and `rpc.cort.code`.
///
/// Put it first in ``CortSystem/Configuration/serverInterceptors``: the
/// interceptors inside it run in its span, and a call one of them refuses
/// (a token check, a rate limit) shows as a span with that code. A call
/// the node refuses before any interceptor runs (its queue is full) has no
/// server span; the caller's span shows that attempt.
///
/// Without a tracer given, it uses the one bootstrapped in
/// `InstrumentationSystem`, read at each call, and does nothing while that
/// is the no-op tracer.
///
/// ```swift
/// let node = try CortSystem.start(.init(
///     name: "greeter", discovery: discovery, endpoint: "tcp://0.0.0.0:5555",
///     serverInterceptors: [TracingServerInterceptor()]))
/// ```
public struct TracingServerInterceptor: ServerInterceptor, BuiltInInterceptor {
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

    /// Runs the call inside a server span, in that span's `ServiceContext`.
    public func intercept(_ call: ServerCall,
                          next: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult {
        guard let tracer = CallTracing.tracer(tracer) else { return try await next(call) }
        return try await trace(call, with: tracer, next: next)
    }

    private func trace(_ call: ServerCall, with tracer: some Tracer,
                       next: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult {
        var context = ServiceContext.current ?? .topLevel
        tracer.extract(call.context.metadata, into: &context, using: CallTracing.MetadataExtractor())
        let span = tracer.startSpan(call.context.method, context: context, ofKind: .server)
        defer { span.end() }
        span.updateAttributes {
            $0.merge(CallTracing.callAttributes(service: call.context.service, method: call.context.method))
            $0[CallTracing.queued] = CallTracing.milliseconds(call.queued)
        }
        do {
            let result = try await ServiceContext.withValue(span.context) { try await next(call) }
            if case .failed(let failure) = result.outcome {
                span.recordError(RemoteCallError(failure.code, failure.message))
                CallTracing.fail(span, code: failure.code)
            }
            return result
        } catch {
            span.recordError(error)
            // The node answers what is not a RemoteCallError as an application error.
            CallTracing.fail(span, code: (error as? RemoteCallError)?.code ?? .remoteApplicationError)
            throw error
        }
    }
}
