import Foundation

extension ConsulConfiguration {
    /// Reads the configuration the way Consul's own clients do.
    ///
    /// - `CONSUL_HTTP_ADDR`: `host:port`, `http://host:port`, `https://host:port` or
    ///   `unix:///path/to/socket` (default `127.0.0.1:8500`); an IPv6 host in brackets.
    /// - `CONSUL_HTTP_TOKEN`, `CONSUL_HTTP_TOKEN_FILE` (the file wins; it is read now, trimmed).
    /// - `CONSUL_HTTP_SSL` (a boolean: HTTPS when the address has no scheme),
    ///   `CONSUL_HTTP_SSL_VERIFY` (a boolean), `CONSUL_CACERT`, `CONSUL_CAPATH`,
    ///   `CONSUL_CLIENT_CERT`, `CONSUL_CLIENT_KEY`, `CONSUL_TLS_SERVER_NAME`.
    /// - `CONSUL_HTTP_AUTH`: `user:password` (or just `user`) for HTTP basic authentication.
    ///
    /// Booleans are read like Go's `strconv.ParseBool` (`1`, `t`, `true`, `0`, `f`, `false`,
    /// in any letter case). Empty variables count as unset. Everything else in code keeps its
    /// default.
    ///
    /// ```swift
    /// // CONSUL_HTTP_ADDR=https://consul.internal:8501 CONSUL_HTTP_TOKEN_FILE=/run/secrets/consul
    /// let client = ConsulClient(configuration: try .fromEnvironment())
    /// ```
    ///
    /// - Parameter environment: the variables to read; the process's environment by default.
    /// - Throws: ``ConsulError`` (``ConsulError/Code/configuration``) naming the variable and
    ///   what is wrong with it.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConsulError) -> ConsulConfiguration {
        func value(_ name: String) -> String? {
            guard let value = environment[name], !value.isEmpty else { return nil }
            return value
        }

        var configuration = ConsulConfiguration()
        let ssl = try value("CONSUL_HTTP_SSL").map { raw throws(ConsulError) in try parseBool(raw, name: "CONSUL_HTTP_SSL") } ?? false
        if let address = value("CONSUL_HTTP_ADDR") {
            configuration.endpoint = try parseAddress(address, defaultHTTPS: ssl)
        } else if ssl {
            configuration.endpoint = .https(host: "127.0.0.1", port: 8500)
        }

        if let path = value("CONSUL_HTTP_TOKEN_FILE") {
            configuration.token = try readToken(path: path)
        } else if let token = value("CONSUL_HTTP_TOKEN") {
            configuration.token = token
        }

        if let verify = value("CONSUL_HTTP_SSL_VERIFY") {
            configuration.tls.verify = try parseBool(verify, name: "CONSUL_HTTP_SSL_VERIFY")
        }
        configuration.tls.caFile = value("CONSUL_CACERT")
        configuration.tls.caPath = value("CONSUL_CAPATH")
        configuration.tls.certificateFile = value("CONSUL_CLIENT_CERT")
        configuration.tls.keyFile = value("CONSUL_CLIENT_KEY")
        configuration.tls.serverName = value("CONSUL_TLS_SERVER_NAME")
        if (configuration.tls.certificateFile == nil) != (configuration.tls.keyFile == nil) {
            throw invalid("CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY must be set together")
        }

        if let auth = value("CONSUL_HTTP_AUTH") {
            if let colon = auth.firstIndex(of: ":") {
                configuration.basicAuth = BasicAuth(
                    username: String(auth[..<colon]), password: String(auth[auth.index(after: colon)...]))
            } else {
                configuration.basicAuth = BasicAuth(username: auth, password: "")
            }
            if configuration.basicAuth?.username.isEmpty == true {
                throw invalid("CONSUL_HTTP_AUTH has an empty user name (expected user:password)")
            }
        }

        try configuration.validate()
        return configuration
    }

    /// Parses `CONSUL_HTTP_ADDR`.
    static func parseAddress(_ raw: String, defaultHTTPS: Bool) throws(ConsulError) -> Endpoint {
        var rest = Substring(raw.trimmingCharacters(in: .whitespaces))
        var https = defaultHTTPS
        if let separator = rest.range(of: "://") {
            let scheme = rest[..<separator.lowerBound].lowercased()
            rest = rest[separator.upperBound...]
            switch scheme {
            case "http": https = false
            case "https": https = true
            case "unix":
                guard !rest.isEmpty else { throw invalid("CONSUL_HTTP_ADDR \"\(raw)\" has no socket path") }
                return .unix(path: String(rest))
            default:
                throw invalid("CONSUL_HTTP_ADDR \"\(raw)\" has an unknown scheme \"\(scheme)\" (expected http, https or unix)")
            }
        }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        if rest.contains("/") {
            throw invalid("CONSUL_HTTP_ADDR \"\(raw)\" has a path; give host:port only")
        }
        let host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else {
                throw invalid("CONSUL_HTTP_ADDR \"\(raw)\" has an unclosed '[' in its IPv6 host")
            }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else {
                    throw invalid("CONSUL_HTTP_ADDR \"\(raw)\" has text after its IPv6 host")
                }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
            if host.contains(":") {
                throw invalid("CONSUL_HTTP_ADDR \"\(raw)\": put an IPv6 host in brackets, e.g. [::1]:8500")
            }
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw invalid("CONSUL_HTTP_ADDR \"\(raw)\" has no host") }
        var port: Int?
        if let portText {
            guard let number = Int(portText), (1...65535).contains(number) else {
                throw invalid("CONSUL_HTTP_ADDR \"\(raw)\" has an invalid port \"\(portText)\"")
            }
            port = number
        }
        // validate() (run on the whole configuration) checks the host's characters.
        return https ? .https(host: String(host), port: port) : .http(host: String(host), port: port)
    }

    /// Parses a boolean like Go's `strconv.ParseBool`.
    static func parseBool(_ raw: String, name: String) throws(ConsulError) -> Bool {
        switch raw.trimmingCharacters(in: .whitespaces).lowercased() {
        case "1", "t", "true": return true
        case "0", "f", "false": return false
        default: throw invalid("\(name) \"\(raw)\" is not a boolean (expected true, false, 1 or 0)")
        }
    }

    static func readToken(path: String) throws(ConsulError) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ConsulError(
                .configuration, "invalid Consul configuration: cannot read CONSUL_HTTP_TOKEN_FILE \"\(path)\"",
                cause: error)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw invalid("CONSUL_HTTP_TOKEN_FILE \"\(path)\" is not UTF-8 text")
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw invalid("CONSUL_HTTP_TOKEN_FILE \"\(path)\" is empty") }
        return token
    }
}
