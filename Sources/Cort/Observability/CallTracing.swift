import Instrumentation
import Tracing

/// What the tracing interceptors (``TracingClientInterceptor``,
/// ``TracingServerInterceptor``) share: attribute names and how a trace
/// context travels in a call's metadata.
///
/// Attribute names follow OpenTelemetry's RPC conventions (`rpc.system`,
/// `rpc.service`, `rpc.method`); what only cort has is under `rpc.cort.`.
enum CallTracing {
    static let system = "rpc.system"
    static let service = "rpc.service"
    static let method = "rpc.method"
    /// The code a call failed with, as ``RemoteCallError/Code`` prints it.
    static let code = "rpc.cort.code"
    /// How long a served call waited in the node's queue, in milliseconds.
    static let queued = "rpc.cort.queued_ms"
    /// The name of the event a client span gets for each attempt.
    static let attemptEvent = "attempt"
    static let attemptNumber = "rpc.cort.attempt"
    static let attemptNode = "rpc.cort.node"
    static let attemptOutcome = "rpc.cort.outcome"
    static let attemptStartedAfter = "rpc.cort.started_after_ms"
    static let attemptDuration = "rpc.cort.duration_ms"

    /// The tracer to use for one call: the one given, else the active one
    /// (read per call: a `withTracer` scope or a later bootstrap counts); nil
    /// when that does nothing, so an interceptor that is on by default costs
    /// next to nothing.
    static func tracer(_ configured: (any Tracer)?) -> (any Tracer)? {
        // Nothing bootstrapped and no `withTracer` scope: the instrument is
        // the no-op one, known without `InstrumentationSystem.tracer`'s
        // dynamic casts (about 1,500 instructions a call on a node, callgrind).
        if configured == nil, type(of: InstrumentationSystem.instrument) == NoOpInstrument.self { return nil }
        let tracer = configured ?? InstrumentationSystem.tracer
        // A comparison of type identities, not `is NoOpTracer`: a dynamic
        // cast is asked on every call, and costs more than the rest of this.
        return type(of: tracer) == NoOpTracer.self ? nil : tracer
    }

    /// The attributes both sides put on a call's span.
    static func callAttributes(service: String, method: String) -> SpanAttributes {
        var attributes = SpanAttributes()
        attributes[system] = "cort"
        attributes[Self.service] = service
        attributes[Self.method] = methodNameWithoutType(method)
        return attributes
    }

    /// `duration` in milliseconds, with a fraction.
    static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }

    /// The tracing clock's instant `offset` after `instant` (a negative
    /// offset counts as zero).
    static func instant(_ offset: Duration, after instant: DefaultTracerClock.Instant) -> DefaultTracerClock.Instant {
        let (seconds, attoseconds) = offset.components
        guard seconds >= 0, attoseconds >= 0 else { return instant }
        let nanoseconds = UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000)
        return DefaultTracerClock.Instant(nanosecondsSinceEpoch: instant.nanosecondsSinceEpoch + nanoseconds)
    }

    /// Marks `span` failed with `code`.
    static func fail(_ span: some Span, code: RemoteCallError.Code) {
        span.attributes[Self.code] = "\(code)"
        span.setStatus(SpanStatus(code: .error, message: "\(code)"))
    }
}

extension CallTracing {
    /// Writes a trace context into a call's metadata.
    struct MetadataInjector: Injector {
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
            carrier[key] = value
        }
    }

    /// Reads a trace context from a call's metadata.
    struct MetadataExtractor: Extractor {
        func extract(key: String, from carrier: [String: String]) -> String? {
            carrier[key]
        }
    }
}
