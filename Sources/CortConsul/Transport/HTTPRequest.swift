/// One request to the agent, before it is turned into a libcurl easy handle.
struct HTTPRequest: Sendable {
    enum Method: String, Sendable { case get = "GET", put = "PUT" }

    var method: Method
    /// The path and query, already percent-encoded, e.g. `/v1/health/service/greeter?passing`.
    var target: String
    /// The JSON body of a PUT; `nil` sends an empty body (`Content-Length: 0`).
    var body: [UInt8]?
    /// How long the whole exchange may take (connecting included).
    var timeout: Duration

    /// `GET /v1/...` for logs and error messages, without the query (which may hold names
    /// but never the token: the token travels in a header).
    var summary: String {
        let path = target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? target
        return "\(method.rawValue) \(path)"
    }
}
