import Cort
import Foundation
import Logging

/// A client of one Consul agent's HTTP API: registration, TTL checks, health queries and
/// watches.
///
/// All requests of a client share one libcurl multi handle driven by one thread (started
/// by the first request), so tasks never block while they wait, connections to the agent
/// are reused, and any number of blocking queries share that one thread. Make one client
/// per agent and share it; it ends its thread when it is released or ``shutdown()``.
///
/// ```swift
/// let client = try ConsulClient(configuration: .fromEnvironment(), logger: logger)
/// try await client.register(ConsulServiceRegistration(
///     id: "greeter-7f3a", name: "greeter", address: "10.0.0.5", port: 5555,
///     check: .init(ttl: .seconds(10))))
/// try await client.passTTL(checkID: "service:greeter-7f3a", note: "ok")
///
/// for await update in client.healthWatch(service: "greeter") {
///     print(update.instances.map { "\($0.address):\($0.port)" })
/// }
/// ```
public final class ConsulClient: Sendable {
    /// The configuration the client was made with.
    public let configuration: ConsulConfiguration
    let transport: CurlTransport
    let logger: Logger

    /// A client of the agent that `configuration` names. Starts nothing: the thread
    /// starts with the first request.
    ///
    /// - Throws: ``ConsulError`` (``ConsulError/Code/configuration``) when the configuration
    ///   is invalid (see ``ConsulConfiguration/validate()``).
    public init(
        configuration: ConsulConfiguration = ConsulConfiguration(),
        logger: Logger = .quiet("cort.consul")
    ) throws(ConsulError) {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        transport = CurlTransport(configuration: configuration)
    }

    /// Fails the requests in flight with ``ConsulError/Code/shutDown``, and every later
    /// one, and ends the client's thread. Idempotent.
    public func shutdown() {
        transport.shutdown()
    }

    /// Connections opened to the agent so far (reused connections do not count).
    package var connectionsOpened: Int { transport.loop.connectionsOpened.load(ordering: .relaxed) }

    // MARK: The request funnel

    /// Sends `request` and returns the answer when its status is 200; any other status
    /// becomes a ``ConsulError/Code/httpStatus`` error with Consul's message.
    func send(_ request: HTTPRequest) async throws(ConsulError) -> HTTPResponse {
        let response = try await transport.perform(request)
        guard response.status == 200 else {
            let consulMessage = response.bodyText()
            var message = "\(request.summary) answered HTTP \(response.status)"
            if let consulMessage { message += ": \(consulMessage)" }
            logger.debug("Consul request failed", metadata: [
                "cort.consul.request": "\(request.summary)", "cort.consul.status": "\(response.status)",
            ])
            throw ConsulError(.httpStatus, message, status: response.status, consulMessage: consulMessage)
        }
        return response
    }

    /// A request that does not block: the configuration's request timeout.
    func request(_ method: HTTPRequest.Method, _ target: String, body: [UInt8]? = nil) -> HTTPRequest {
        HTTPRequest(method: method, target: target, body: body, timeout: configuration.requestTimeout)
    }

    /// The timeout of a blocking query: its wait, the agent's jitter (up to wait/16), and
    /// the configuration's request timeout as a margin for the answer itself.
    func blockingTimeout(wait: Duration) -> Duration {
        wait + wait / 16 + configuration.requestTimeout
    }

    /// Decodes a JSON answer; a body that is not the expected JSON becomes a
    /// ``ConsulError/Code/decoding`` error that says what came instead.
    func decode<Value: Decodable>(_ type: Value.Type, from response: HTTPResponse, for request: HTTPRequest) throws(ConsulError) -> Value {
        if response.isHTML {
            throw ConsulError(
                .decoding, "\(request.summary): expected JSON, got \(response.bodyText() ?? "an HTML page")",
                status: response.status)
        }
        do {
            return try JSONDecoder().decode(Value.self, from: Data(response.body))
        } catch {
            throw ConsulError(
                .decoding,
                "\(request.summary): the answer (\(response.body.count) bytes) is not the expected JSON: \(Self.describe(error))",
                status: response.status, cause: error)
        }
    }

    /// A query result from a decoded value and the answer's `X-Consul-*` headers.
    func queryResult<Value>(_ value: Value, from response: HTTPResponse, for request: HTTPRequest) throws(ConsulError) -> ConsulQueryResult<Value> {
        guard let raw = response.headers["x-consul-index"] else {
            throw ConsulError(.decoding, "\(request.summary): the answer has no X-Consul-Index header", status: response.status)
        }
        guard let index = UInt64(raw) else {
            throw ConsulError(.decoding, "\(request.summary): X-Consul-Index \"\(raw.prefix(40))\" is not a number", status: response.status)
        }
        let knownLeader = response.headers["x-consul-knownleader"].map { $0 == "true" }
        let lastContact = response.headers["x-consul-lastcontact"].flatMap { Int64($0) }.map { Duration.milliseconds($0) }
        return ConsulQueryResult(value: value, index: index, knownLeader: knownLeader, lastContact: lastContact)
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return path.isEmpty ? "" : " at \(path)"
        }
        switch error {
        case .typeMismatch(let type, let context): return "expected \(type)\(path(context))"
        case .valueNotFound(let type, let context): return "missing \(type) value\(path(context))"
        case .keyNotFound(let key, let context): return "missing key \"\(key.stringValue)\"\(path(context))"
        case .dataCorrupted(let context): return "invalid JSON\(path(context)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
