import Foundation

/// The agent's answer: status, headers (names lowercased) and the whole body.
struct HTTPResponse: Sendable {
    var status: Int
    /// Header values by lowercased name; a repeated header keeps its last value.
    var headers: [String: String]
    var body: [UInt8]

    /// The answer's `X-Consul-Index`, when present and a number.
    var consulIndex: UInt64? { headers["x-consul-index"].flatMap { UInt64($0) } }

    /// Whether the body claims to be HTML (an error page from a proxy or a load balancer,
    /// not an answer from Consul).
    var isHTML: Bool {
        if headers["content-type"]?.lowercased().contains("text/html") == true { return true }
        let start = body.prefix(64).drop(while: { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 })
        return start.first == UInt8(ascii: "<")
    }

    /// The body as text for an error message: trimmed, at most `limit` characters, and
    /// never the raw markup of an HTML page.
    func bodyText(limit: Int = 300) -> String? {
        if isHTML { return "an HTML page of \(body.count) bytes, not an answer from Consul" }
        let text = String(decoding: body.prefix(limit * 4), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return nil }
        return text.count > limit ? String(text.prefix(limit)) + "…" : text
    }
}
