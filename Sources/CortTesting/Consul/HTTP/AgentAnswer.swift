#if ConsulAgentDouble
import Foundation
internal import FlyingFox

/// An answer of the agent, before it becomes FlyingFox's response.
struct AgentAnswer: Sendable {
    var status: Int
    var headers: [(String, String)] = []
    var body: [UInt8] = []
    /// Close the connection without answering (the agent went away).
    var abort = false

    static func text(_ status: Int, _ message: String, headers: [(String, String)] = []) -> AgentAnswer {
        AgentAnswer(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")] + headers,
                    body: Array(message.utf8))
    }

    static func json(_ value: some Encodable, index: UInt64? = nil, knownLeader: Bool = true) -> AgentAnswer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // The shapes are plain structs of strings, numbers and arrays; they
        // always encode.
        let body = (try? encoder.encode(value)) ?? Data("null".utf8)
        var headers = [("Content-Type", "application/json")]
        if let index {
            headers += [("X-Consul-Index", String(max(index, 1))),
                        ("X-Consul-KnownLeader", knownLeader ? "true" : "false"),
                        ("X-Consul-LastContact", "0")]
        }
        return AgentAnswer(status: 200, headers: headers, body: Array(body))
    }

    static let empty = AgentAnswer(status: 200)
    static let aborted = AgentAnswer(status: 0, abort: true)

    var response: HTTPResponse {
        if abort { return HTTPResponse(webSocket: AbortConnection()) }
        var fields = HTTPHeaders()
        for (name, value) in headers { fields.addValue(value, for: HTTPHeader(name)) }
        return HTTPResponse(statusCode: HTTPStatusCode(status, phrase: Self.phrase(status)), headers: fields,
                            body: Data(body))
    }

    private static func phrase(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        default: "Status"
        }
    }
}

/// An answer ends a route early as its error (a 400 for a bad parameter).
extension AgentAnswer: Error {}

/// Closes a connection without writing anything: FlyingFox asks a WebSocket
/// handler for its frames before it writes the response head, and closes the
/// connection when that throws. This is how the double drops requests in
/// flight when it "goes away", as a dead agent would.
struct AbortConnection: WSHandler {
    func makeFrames(for client: AsyncThrowingStream<WSFrame, any Error>) async throws -> AsyncStream<WSFrame> {
        throw CancellationError()
    }
}

#endif
