/// The libcurl failure under a transport ``ConsulError``: `CURLcode` and libcurl's text.
public struct CurlFailure: Error, Sendable, CustomStringConvertible {
    /// libcurl's `CURLcode` (e.g. 7 for "couldn't connect").
    public var code: Int
    /// libcurl's explanation.
    public var message: String
    /// `curl error <code>: <message>`.
    public var description: String { "curl error \(code): \(message)" }
}
