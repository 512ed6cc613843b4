/// A hook around every remote call a system makes: to add metadata (an auth
/// token, a trace context), measure, audit, or refuse a call before it is sent.
///
/// Interceptors are given in ``CortSystem/Configuration/clientInterceptors``;
/// the first is the outermost: it sees the call first and its result last.
/// Each calls `next` to go on (or throws instead, and the call is not sent),
/// and may change the call's metadata, timeout and idempotence on the way.
/// They never see arguments or results, only what the call is and how it
/// ended: a ``RemoteCallError`` thrown by `next` (with the call's
/// ``RemoteCallError/attempts``), or a ``ClientCallResult``.
///
/// ```swift
/// struct BearerToken: ClientInterceptor {
///     let token: String
///     func intercept(_ call: ClientCall,
///                    next: (ClientCall) async throws -> ClientCallResult) async throws -> ClientCallResult {
///         var call = call
///         call.metadata["authorization"] = "Bearer \(token)"
///         return try await next(call)
///     }
/// }
/// ```
///
/// (Compare grpc-swift's `ClientInterceptor`.)
public protocol ClientInterceptor: Sendable {
    /// Intercepts one call; call `next` to make it.
    func intercept(_ call: ClientCall,
                   next: (ClientCall) async throws -> ClientCallResult) async throws -> ClientCallResult
}

/// A remote call as client interceptors see it.
public struct ClientCall: Sendable {
    /// The service it is addressed to (for a call to one actor instance, the
    /// service or type that actor belongs to).
    public let service: String
    /// The method's readable name (`Greeter.hello(name:)`).
    public let method: String
    /// The metadata sent with the call (trace context and the caller's own).
    public var metadata: [String: String]
    /// How long the call may take from now, failovers included.
    public var timeout: Duration
    /// Whether the call may be sent again to another node after a node
    /// failed with it in flight.
    public var isIdempotent: Bool
    /// Whether it is addressed to one actor instance rather than a service.
    public let isInstanceCall: Bool
}

/// How a call ended, when it ended with a value: opaque (interceptors do not
/// see results), with the attempts it took.
public struct ClientCallResult: Sendable {
    let bytes: [UInt8]?
    /// The attempts the call made: one per node it was sent to (or that
    /// refused it); the last one answered.
    public let attempts: [CallAttempt]
}

/// One attempt of a call: a node it went to (or tried to), and what happened.
public struct CallAttempt: Sendable, Hashable, CustomStringConvertible {
    /// What happened to the attempt.
    public struct Outcome: Sendable, Hashable, CustomStringConvertible {
        enum Value: Sendable, Hashable {
            case answered
            case failed(RemoteCallError.Code)
            case notSent
            case nodeFailed(String)
        }

        let value: Value

        /// The node answered with the call's value.
        public static let answered = Outcome(value: .answered)
        /// The node answered with an error (moved to another node when the
        /// code says it did not run: `overloaded`, `shuttingDown`).
        public static func failed(_ code: RemoteCallError.Code) -> Outcome { Outcome(value: .failed(code)) }
        /// It never reached the node (no connection, or the handshake failed).
        public static let notSent = Outcome(value: .notSent)
        /// The node failed (died, froze, restarted, dropped the connection)
        /// after the call was sent; `reason` says how.
        public static func nodeFailed(_ reason: String) -> Outcome { Outcome(value: .nodeFailed(reason)) }

        /// Whether the node answered `overloaded` (it did not run the call).
        var isOverloaded: Bool {
            if case .failed(let code) = value { return code == .overloaded }
            return false
        }

        /// The error code the attempt ended with, nil for an answer with a value.
        public var code: RemoteCallError.Code? {
            if case .failed(let code) = value { return code }
            return nil
        }

        public var description: String {
            switch value {
            case .answered: "answered"
            case .failed(let code): "answered \(code)"
            case .notSent: "not sent"
            case .nodeFailed(let reason): "node failed (\(reason))"
            }
        }
    }

    /// The node (its instance id and endpoint).
    public let node: String
    /// What happened.
    public let outcome: Outcome
    /// When the attempt started, as time since the call started.
    public let startedAfter: Duration
    /// How long it took.
    public let duration: Duration

    /// Creates an attempt record.
    public init(node: String, outcome: Outcome, startedAfter: Duration, duration: Duration) {
        self.node = node
        self.outcome = outcome
        self.startedAfter = startedAfter
        self.duration = duration
    }

    /// `node: outcome at +start for duration`.
    public var description: String {
        "\(node): \(outcome) at +\(startedAfter.formattedMilliseconds) for \(duration.formattedMilliseconds)"
    }
}

extension Duration {
    /// `12.3 ms`.
    var formattedMilliseconds: String {
        let (seconds, attoseconds) = components
        let tenths = (seconds * 10_000 + attoseconds / 100_000_000_000_000)
        return "\(tenths / 10).\(abs(tenths % 10)) ms"
    }
}

/// cort's own interceptors, which do nothing until a backend is
/// bootstrapped: a call skips its chain when every interceptor in it is one
/// of them with nothing to record to, and keeps the async frames it would
/// hold while it waits (a call that waits holds its whole stack).
protocol BuiltInInterceptor: Sendable {
    /// Whether it would record anything for a call made now.
    var isActive: Bool { get }
}

/// A chain of interceptors, outermost first, with what a call needs to know
/// to skip it, worked out once (a cast per interceptor per call was a
/// twentieth of a node's time).
struct InterceptorChain<Interceptor: Sendable>: Sendable {
    let interceptors: [Interceptor]
    /// The interceptors as cort's own, when every one of them is; nil otherwise.
    private let builtIns: [any BuiltInInterceptor]?

    init(_ interceptors: [Interceptor]) {
        self.interceptors = interceptors
        var builtIns: [any BuiltInInterceptor]? = []
        for interceptor in interceptors {
            guard let builtIn = interceptor as? any BuiltInInterceptor else {
                builtIns = nil
                break
            }
            builtIns?.append(builtIn)
        }
        self.builtIns = builtIns
    }

    /// Whether any of them would do something for a call made now.
    var isActive: Bool {
        guard let builtIns else { return true }
        return builtIns.contains { $0.isActive }
    }
}
