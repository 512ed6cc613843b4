import Foundation

/// Percent-encoding of the names and IDs put into request paths and queries.
enum ConsulPath {
    private static let segmentAllowed: CharacterSet = {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove("/")
        return allowed
    }()

    private static let queryValueAllowed: CharacterSet = {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+#")
        return allowed
    }()

    /// `value` as one path segment (a `/` inside it is encoded, not a separator).
    static func segment(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: segmentAllowed) ?? value
    }

    /// `value` as a query parameter value.
    static func query(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: queryValueAllowed) ?? value
    }

    /// A query string from bare flags and name/value pairs, e.g. `?passing&stale&tag=v1`.
    static func queryString(_ items: [(String, String?)]) -> String {
        guard !items.isEmpty else { return "" }
        return "?" + items.map { name, value in value.map { "\(name)=\(query($0))" } ?? name }.joined(separator: "&")
    }
}
