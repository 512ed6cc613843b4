/// The libcurl settings every request of one client shares, derived once from its
/// ``ConsulConfiguration``.
struct CurlSessionOptions: Sendable {
    /// `http(s)://host:port`, without a trailing slash.
    var baseURL: String
    var unixSocketPath: String?
    /// `CURLOPT_CONNECT_TO` entry when the TLS server name differs from the host to connect to.
    var connectTo: String?
    var useTLS: Bool
    var verifyPeer: Bool
    var caFile: String?
    var caPath: String?
    var certificateFile: String?
    var keyFile: String?
    var username: String?
    var password: String?
    var connectTimeoutMilliseconds: Int
    var maxBodySize: Int

    init(_ configuration: ConsulConfiguration) {
        switch configuration.endpoint.kind {
        case .tcp(let https, let host, let port):
            let scheme = https ? "https" : "http"
            let urlHost = host.contains(":") ? "[\(host)]" : host
            let portSuffix = port.map { ":\($0)" } ?? ""
            if https, let serverName = configuration.tls.serverName, serverName != host {
                // The URL names the server (so SNI and certificate checks use it); the
                // connection still goes to the configured host.
                baseURL = "\(scheme)://\(serverName)\(portSuffix)"
                let targetPort = port ?? 443
                connectTo = "\(serverName):\(targetPort):\(urlHost):\(targetPort)"
            } else {
                baseURL = "\(scheme)://\(urlHost)\(portSuffix)"
                connectTo = nil
            }
            unixSocketPath = nil
            useTLS = https
        case .unix(let path):
            baseURL = "http://localhost"
            unixSocketPath = path
            connectTo = nil
            useTLS = false
        }
        verifyPeer = configuration.tls.verify
        caFile = configuration.tls.caFile
        caPath = configuration.tls.caPath
        certificateFile = configuration.tls.certificateFile
        keyFile = configuration.tls.keyFile
        username = configuration.basicAuth?.username
        password = configuration.basicAuth?.password
        connectTimeoutMilliseconds = configuration.connectTimeout.milliseconds
        maxBodySize = configuration.maxResponseBodySize
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so a positive duration never becomes 0 (which libcurl
    /// reads as "no timeout").
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        let millis = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        let rest = attoseconds % 1_000_000_000_000_000
        return Int(clamping: millis + (rest > 0 ? 1 : 0))
    }
}
