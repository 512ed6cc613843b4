import FlyingFox
import Foundation
import Synchronization
@testable import CortConsul

/// A tiny HTTP server on 127.0.0.1 (an ephemeral port) that answers with whatever the test
/// says, for the client's error paths; the faithful agent is CortTesting's double.
final class StubAgent: Sendable {
    struct Seen: Sendable {
        var method: String
        var path: String
        var query: [String: String]
        var rawTarget: String
        var headers: [String: String]
        var body: Data
    }

    let server: HTTPServer
    let port: UInt16
    private let task: Task<Void, any Error>
    private let seen = Mutex<[Seen]>([])

    private init(server: HTTPServer, port: UInt16, task: Task<Void, any Error>) {
        self.server = server
        self.port = port
        self.task = task
    }

    /// Starts a server that answers every request with `handler`.
    static func start(_ handler: @escaping @Sendable (FlyingFox.HTTPRequest) async throws -> FlyingFox.HTTPResponse) async throws -> StubAgent {
        let box = SeenBox()
        let handlerClosure: @Sendable (FlyingFox.HTTPRequest) async throws -> FlyingFox.HTTPResponse = { request in
            var headers: [String: String] = [:]
            for (name, value) in request.headers { headers[name.rawValue.lowercased()] = value }
            var query: [String: String] = [:]
            for item in request.query { query[item.name] = item.value }
            let body = try await request.bodyData
            box.append(Seen(
                method: request.method.rawValue, path: request.path, query: query,
                rawTarget: request.target.rawValue, headers: headers, body: body))
            return try await handler(request)
        }
        let server = HTTPServer(
            address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 60, logger: .disabled,
            handler: ClosureHTTPHandler(handlerClosure))
        let task = Task { try await server.run() }
        try await server.waitUntilListening(timeout: 10)
        guard case .ip4(_, let port) = await server.listeningAddress else {
            task.cancel()
            throw StubError.noPort
        }
        let agent = StubAgent(server: server, port: port, task: task)
        box.owner.withLock { $0 = agent }
        return agent
    }

    /// The requests answered so far.
    var requests: [Seen] { seen.withLock { $0 } }

    fileprivate func record(_ request: Seen) { seen.withLock { $0.append(request) } }

    /// A client of this server.
    func client(_ adjust: (inout ConsulConfiguration) -> Void = { _ in }) throws -> ConsulClient {
        var configuration = ConsulConfiguration()
        configuration.endpoint = .http(host: "127.0.0.1", port: Int(port))
        // Long: a loaded machine's stub may take seconds to answer (tests of
        // timeouts set their own).
        configuration.requestTimeout = .seconds(30)
        adjust(&configuration)
        return try ConsulClient(configuration: configuration)
    }

    func stop() async {
        await server.stop(timeout: 0)
        task.cancel()
    }

    enum StubError: Error { case noPort }
}

/// Lets the server's handler, made before the agent exists, record into it.
private final class SeenBox: Sendable {
    let owner = Mutex<StubAgent?>(nil)
    func append(_ seen: StubAgent.Seen) { owner.withLock { $0 }?.record(seen) }
}

/// Runs `body` with a stub agent and stops it afterwards.
func withStubAgent<R>(
    _ handler: @escaping @Sendable (FlyingFox.HTTPRequest) async throws -> FlyingFox.HTTPResponse,
    _ body: (StubAgent) async throws -> R
) async throws -> R {
    let agent = try await StubAgent.start(handler)
    do {
        let result = try await body(agent)
        await agent.stop()
        return result
    } catch {
        await agent.stop()
        throw error
    }
}

/// A JSON answer with Consul's headers.
func consulAnswer(_ json: String, index: UInt64? = 7, status: HTTPStatusCode = .ok, contentType: String = "application/json") -> FlyingFox.HTTPResponse {
    var headers: HTTPHeaders = [.contentType: contentType]
    if let index { headers[HTTPHeader("X-Consul-Index")] = String(index) }
    headers[HTTPHeader("X-Consul-KnownLeader")] = "true"
    headers[HTTPHeader("X-Consul-LastContact")] = "0"
    return FlyingFox.HTTPResponse(statusCode: status, headers: headers, body: Data(json.utf8))
}

/// A plain-text error answer, as Consul gives them.
func consulError(_ status: HTTPStatusCode, _ text: String) -> FlyingFox.HTTPResponse {
    FlyingFox.HTTPResponse(statusCode: status, headers: [.contentType: "text/plain; charset=utf-8"], body: Data(text.utf8))
}

/// One health entry as a real agent answers it.
func healthEntryJSON(id: String, service: String = "greeter", address: String = "", port: Int = 5555, node: String = "host-a", nodeAddress: String = "10.1.10.12") -> String {
    """
    {"Node":{"ID":"40e4a748","Node":"\(node)","Address":"\(nodeAddress)","Datacenter":"dc1","TaggedAddresses":{"lan":"\(nodeAddress)"},"Meta":{}},
     "Service":{"ID":"\(id)","Service":"\(service)","Tags":["v1"],"Address":"\(address)","Meta":{"cort_protocol":"1"},"Port":\(port),"Weights":{"Passing":1,"Warning":1}},
     "Checks":[{"Node":"\(node)","CheckID":"serfHealth","Name":"Serf Health Status","Status":"passing","Output":"","ServiceID":"","ServiceName":"","ServiceTags":[]},
               {"Node":"\(node)","CheckID":"service:\(id)","Name":"Service '\(service)' check","Status":"passing","Output":"ok","ServiceID":"\(id)","ServiceName":"\(service)","ServiceTags":["v1"]}]}
    """
}
