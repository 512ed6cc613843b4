import Cort
import Synchronization

/// cort's own interceptors alone, on a real call's values: what they add to
/// one call, without the wire, the threads and the noise around it.
///
/// ``capture(payloadSize:)`` makes one real `Echo.echo(_:)` call between two
/// systems in this process, both with `instrumented: false` and a capturing
/// interceptor on each side, and keeps the `ClientCall`, `ServerCall` and
/// their results (cort does not let them be made any other way). The chains
/// then run the default interceptors (tracing, then metrics, as
/// `CortSystem.Configuration.instrumented` puts them) around a body that
/// returns the captured result, the way cort runs a chain: each interceptor's
/// `next` runs the rest of the array slice, the body innermost.
public struct InterceptorChains: Sendable {
    public let clientCall: ClientCall
    public let clientResult: ClientCallResult
    public let serverCall: ServerCall
    public let serverResult: ServerCallResult

    /// cort's default client chain (`TracingClientInterceptor`, `MetricsClientInterceptor`).
    public let defaultClient: [any ClientInterceptor] = [TracingClientInterceptor(), MetricsClientInterceptor()]
    /// cort's default server chain (`TracingServerInterceptor`, `MetricsServerInterceptor`).
    public let defaultServer: [any ServerInterceptor] = [TracingServerInterceptor(), MetricsServerInterceptor()]

    /// Makes one real call and keeps what each side's interceptors saw.
    public static func capture(payloadSize: Int = PingPongDefaults.payloadSize) async throws -> InterceptorChains {
        let client = ClientCapture()
        let server = ServerCapture()
        let node = try CortSystem.start(.init(name: "capture-node", discovery: StaticDiscovery([:]),
                                              endpoint: "tcp://127.0.0.1:0", serverInterceptors: [server],
                                              instrumented: false))
        do {
            try await node.host(Echo.serviceName, replicas: 1) { Echo(actorSystem: $0) }
            guard let endpoint = node.endpoint else { throw BenchmarkFailure("the capture node has no endpoint") }
            let caller = try CortSystem.start(.init(
                name: "capture-caller", discovery: try StaticDiscovery([Echo.serviceName: [endpoint]]),
                defaultTimeout: .seconds(5), clientInterceptors: [client], instrumented: false))
            do {
                let echo = try Echo.resolve(id: .service(Echo.serviceName), using: caller)
                _ = try await echo.echo([UInt8](repeating: 0x5a, count: payloadSize))
                await caller.shutdown()
            } catch {
                await caller.shutdown()
                throw error
            }
            await node.shutdown()
        } catch {
            await node.shutdown()
            throw error
        }
        guard let (clientCall, clientResult) = client.captured.withLock({ $0 }),
              let (serverCall, serverResult) = server.captured.withLock({ $0 }) else {
            throw BenchmarkFailure("the capturing interceptors saw no call")
        }
        return InterceptorChains(clientCall: clientCall, clientResult: clientResult,
                                 serverCall: serverCall, serverResult: serverResult)
    }

    /// The client `chain` around a body that returns the captured result.
    public func runClient(_ chain: [any ClientInterceptor]) async throws -> ClientCallResult {
        let result = clientResult
        return try await Self.run(clientCall, through: chain[...]) { _ in result }
    }

    /// The server `chain` around a body that returns the captured result.
    public func runServer(_ chain: [any ServerInterceptor]) async throws -> ServerCallResult {
        let result = serverResult
        return try await Self.run(serverCall, through: chain[...]) { _ in result }
    }

    /// ``runClient(_:)`` `count` times (in one task, off the main actor).
    public func runClient(_ chain: [any ClientInterceptor], count: Int) async throws {
        for _ in 0..<count { _ = try await runClient(chain) }
    }

    /// ``runServer(_:)`` `count` times (in one task, off the main actor).
    public func runServer(_ chain: [any ServerInterceptor], count: Int) async throws {
        for _ in 0..<count { _ = try await runServer(chain) }
    }

    // As CortSystem.run(_:through:_:) and the node's chain.
    private static func run(_ call: ClientCall, through interceptors: ArraySlice<any ClientInterceptor>,
                            _ body: (ClientCall) async throws -> ClientCallResult) async throws -> ClientCallResult {
        guard let first = interceptors.first else { return try await body(call) }
        return try await first.intercept(call) { next in
            try await run(next, through: interceptors.dropFirst(), body)
        }
    }

    private static func run(_ call: ServerCall, through interceptors: ArraySlice<any ServerInterceptor>,
                            _ body: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult {
        guard let first = interceptors.first else { return try await body(call) }
        return try await first.intercept(call) { next in
            try await run(next, through: interceptors.dropFirst(), body)
        }
    }

    private final class ClientCapture: ClientInterceptor {
        let captured = Mutex<(ClientCall, ClientCallResult)?>(nil)

        func intercept(_ call: ClientCall,
                       next: (ClientCall) async throws -> ClientCallResult) async throws -> ClientCallResult {
            let result = try await next(call)
            captured.withLock { $0 = (call, result) }
            return result
        }
    }

    private final class ServerCapture: ServerInterceptor {
        let captured = Mutex<(ServerCall, ServerCallResult)?>(nil)

        func intercept(_ call: ServerCall,
                       next: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult {
            let result = try await next(call)
            captured.withLock { $0 = (call, result) }
            return result
        }
    }
}
