/// A hook around every call a node runs: to check metadata (an auth token),
/// measure, trace, audit, or refuse a call before its method runs.
///
/// Interceptors are given in ``CortSystem/Configuration/serverInterceptors``
/// (for every hosted service) and in `host(…, interceptors:)` (for one);
/// the system's come first, and the first is the outermost. Each calls
/// `next` to go on. One that throws a ``RemoteCallError`` instead refuses
/// the call with that error's code before the method ran (so a code that
/// says "it did not run", like `permissionDenied` or `overloaded`, is
/// true); whatever else it throws is answered `remoteApplicationError`.
/// The method runs inside `next`, in the interceptor's task-local scope, so
/// a `ServiceContext` or logger an interceptor sets is the method's.
///
/// ```swift
/// struct RequireToken: ServerInterceptor {
///     let token: String
///     func intercept(_ call: ServerCall,
///                    next: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult {
///         guard call.context.metadata["authorization"] == "Bearer \(token)" else {
///             throw RemoteCallError(.permissionDenied, "a token is needed")
///         }
///         return try await next(call)
///     }
/// }
/// ```
public protocol ServerInterceptor: Sendable {
    /// Intercepts one call; call `next` to run its method.
    func intercept(_ call: ServerCall,
                   next: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult
}

/// A call as server interceptors see it, before its method runs.
public struct ServerCall: Sendable {
    /// What the method will know of its call (service, method, metadata,
    /// caller, deadline).
    public let context: CallContext
    /// How long the call waited in the node's queue before it started.
    public let queued: Duration
}

/// How a call's method ended, as server interceptors see it (the value
/// itself is opaque).
public struct ServerCallResult: Sendable {
    let outcome: CallOutcome

    /// The error code the call is answered with; nil when the method returned a value.
    public var code: RemoteCallError.Code? {
        if case .failed(let failure) = outcome { return failure.code }
        return nil
    }
}
