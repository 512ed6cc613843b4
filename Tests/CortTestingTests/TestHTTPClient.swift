import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A small HTTP client for the double's tests: one request, the status, the
/// headers and the body. URLSession on Linux runs on its own threads, so no
/// cooperative thread waits on the socket.
struct TestHTTPClient: Sendable {
    struct Response: Sendable {
        var status: Int
        var headers: [String: String]
        var body: Data

        var text: String { String(decoding: body, as: UTF8.self) }
        func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }
        var index: UInt64? { header("X-Consul-Index").flatMap(UInt64.init) }
        func json() throws -> Any { try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) }
        /// The body as an array of objects (a health answer).
        func entries() throws -> [[String: Any]] {
            guard let array = try json() as? [[String: Any]] else { throw Failure(message: "not an array: \(text)") }
            return array
        }
    }

    struct Failure: Error { var message: String }

    let address: String
    let session: URLSession

    init(address: String) {
        self.address = address
        let configuration = URLSessionConfiguration.ephemeral
        // Blocking queries in these tests run on virtual time; a request
        // that hangs in real time is a failure, reported within this bound.
        configuration.timeoutIntervalForRequest = 30
        session = URLSession(configuration: configuration)
    }

    func send(_ method: String, _ target: String, body: String? = nil, headers: [String: String] = [:]) async throws -> Response {
        try await send(method, target, data: body.map { Data($0.utf8) }, headers: headers)
    }

    func send(_ method: String, _ target: String, data: Data?, headers: [String: String] = [:]) async throws -> Response {
        guard let url = URL(string: "http://\(address)\(target)") else { throw Failure(message: "bad target \(target)") }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = data
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (body, response) = try await session.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw Failure(message: "not HTTP") }
        var fields: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { fields[name] = value }
        }
        return Response(status: http.statusCode, headers: fields, body: body)
    }

    func get(_ target: String, headers: [String: String] = [:]) async throws -> Response {
        try await send("GET", target, data: nil, headers: headers)
    }

    func put(_ target: String, _ body: String? = nil, headers: [String: String] = [:]) async throws -> Response {
        try await send("PUT", target, body: body, headers: headers)
    }
}

/// Runs `body`, failing when it takes longer than `seconds` (real time): a
/// bound on waits for events, never a timing assertion.
func withDeadline<T: Sendable>(
    seconds: Double = 20, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TestHTTPClient.Failure(message: "no result within \(seconds)s")
        }
        return value
    }
}
