/// Where the Consul agent is and how to talk to it.
///
/// Build one in code, or read it from the environment the way Consul's own clients do
/// (``fromEnvironment(_:)``):
///
/// ```swift
/// var configuration = ConsulConfiguration()              // http://127.0.0.1:8500
/// configuration.endpoint = .https(host: "consul.internal", port: 8501)
/// configuration.token = "b1gs33cr3t"
/// configuration.tls.caFile = "/etc/consul/ca.pem"
///
/// let fromEnvironment = try ConsulConfiguration.fromEnvironment()   // CONSUL_HTTP_ADDR, ...
/// ```
public struct ConsulConfiguration: Sendable, Hashable {
    /// How to reach the agent's HTTP API.
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        enum Kind: Sendable, Hashable {
            case tcp(https: Bool, host: String, port: Int?)
            case unix(path: String)
        }

        let kind: Kind

        /// Plain HTTP to `host:port` (a name, an IPv4 address, or an IPv6 address without brackets).
        public static func http(host: String, port: Int? = 8500) -> Endpoint {
            Endpoint(kind: .tcp(https: false, host: host, port: port))
        }

        /// HTTPS to `host:port`.
        public static func https(host: String, port: Int? = 8501) -> Endpoint {
            Endpoint(kind: .tcp(https: true, host: host, port: port))
        }

        /// HTTP over a Unix domain socket at `path`.
        public static func unix(path: String) -> Endpoint {
            Endpoint(kind: .unix(path: path))
        }

        /// Whether requests use TLS.
        public var usesTLS: Bool {
            if case .tcp(true, _, _) = kind { return true }
            return false
        }

        /// The endpoint as `CONSUL_HTTP_ADDR` would spell it, e.g. `http://127.0.0.1:8500`.
        public var description: String {
            switch kind {
            case .tcp(let https, let host, let port):
                let shownHost = host.contains(":") ? "[\(host)]" : host
                return "\(https ? "https" : "http")://\(shownHost)\(port.map { ":\($0)" } ?? "")"
            case .unix(let path):
                return "unix://\(path)"
            }
        }
    }

    /// TLS settings (used when the endpoint is HTTPS).
    public struct TLS: Sendable, Hashable {
        /// A PEM file of CA certificates to verify the agent with (`CONSUL_CACERT`).
        public var caFile: String?
        /// A directory of CA certificates (`CONSUL_CAPATH`).
        public var caPath: String?
        /// The client certificate, PEM (`CONSUL_CLIENT_CERT`).
        public var certificateFile: String?
        /// The client certificate's private key, PEM (`CONSUL_CLIENT_KEY`).
        public var keyFile: String?
        /// The name to expect in the agent's certificate and to send as SNI, when it differs
        /// from the endpoint's host (`CONSUL_TLS_SERVER_NAME`).
        public var serverName: String?
        /// Whether to verify the agent's certificate (`CONSUL_HTTP_SSL_VERIFY`); `false` only
        /// for tests.
        public var verify: Bool = true

        /// Default TLS: verify against the system's CAs, no client certificate.
        public init() {}
    }

    /// HTTP basic authentication (`CONSUL_HTTP_AUTH`, `user:password`).
    public struct BasicAuth: Sendable, Hashable {
        /// The user name.
        public var username: String
        /// The password (may be empty).
        public var password: String

        /// Credentials for HTTP basic authentication.
        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    /// The agent's address; `http://127.0.0.1:8500` by default.
    public var endpoint: Endpoint = .http(host: "127.0.0.1", port: 8500)
    /// The ACL token, sent as `X-Consul-Token` (never in the URL).
    public var token: String?
    /// TLS settings.
    public var tls = TLS()
    /// HTTP basic authentication, for agents behind a proxy that asks for it.
    public var basicAuth: BasicAuth?
    /// How long to wait for a connection to the agent.
    public var connectTimeout: Duration = .seconds(5)
    /// The timeout of a request that does not block; a blocking query gets its wait, plus
    /// the agent's jitter (wait/16), plus this.
    public var requestTimeout: Duration = .seconds(10)
    /// The largest answer body accepted; a larger one fails with
    /// ``ConsulError/Code/bodyTooLarge`` instead of filling memory.
    public var maxResponseBodySize: Int = 32 << 20

    /// The defaults: `http://127.0.0.1:8500`, no token, 5 s to connect, 10 s per request,
    /// answers up to 32 MiB.
    public init() {}

    /// Checks the values that are not checked by their types.
    ///
    /// - Throws: ``ConsulError`` with code ``ConsulError/Code/configuration``.
    public func validate() throws(ConsulError) {
        switch endpoint.kind {
        case .tcp(_, let host, let port):
            if host.isEmpty { throw Self.invalid("the endpoint has an empty host") }
            if host.contains(where: { $0 == "/" || $0 == "?" || $0 == "#" || $0 == "@" || $0.isWhitespace }) {
                throw Self.invalid("the endpoint's host \"\(host)\" contains characters a host cannot contain")
            }
            if let port, !(1...65535).contains(port) {
                throw Self.invalid("the endpoint's port \(port) is not in 1...65535")
            }
        case .unix(let path):
            if path.isEmpty { throw Self.invalid("the unix socket path is empty") }
        }
        // Scalars, not Characters: "\r\n" is one Character. A control character in a
        // header value would let the token inject headers.
        if let token, token.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw Self.invalid("the token contains a control character (a line break?)")
        }
        if connectTimeout <= .zero { throw Self.invalid("connectTimeout must be positive") }
        if requestTimeout <= .zero { throw Self.invalid("requestTimeout must be positive") }
        if maxResponseBodySize <= 0 { throw Self.invalid("maxResponseBodySize must be positive") }
    }

    static func invalid(_ message: String) -> ConsulError {
        ConsulError(.configuration, "invalid Consul configuration: \(message)")
    }
}
