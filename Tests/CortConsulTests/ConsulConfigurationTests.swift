import Foundation
import Testing
@testable import CortConsul

@Suite struct ConsulConfigurationTests {
    @Test func defaultsMatchConsulsClients() throws {
        let configuration = try ConsulConfiguration.fromEnvironment([:])
        #expect(configuration.endpoint == .http(host: "127.0.0.1", port: 8500))
        #expect(configuration.token == nil)
        #expect(configuration.tls.verify)
        #expect(configuration.basicAuth == nil)
    }

    @Test(arguments: [
        ("10.0.0.5:8500", ConsulConfiguration.Endpoint.http(host: "10.0.0.5", port: 8500)),
        ("http://consul.local:8500", .http(host: "consul.local", port: 8500)),
        ("https://consul.local:8501", .https(host: "consul.local", port: 8501)),
        ("HTTPS://consul.local:8501/", .https(host: "consul.local", port: 8501)),
        ("consul.local", .http(host: "consul.local", port: nil)),
        ("[::1]:8500", .http(host: "::1", port: 8500)),
        ("unix:///var/run/consul.sock", .unix(path: "/var/run/consul.sock")),
    ])
    func addressForms(raw: String, expected: ConsulConfiguration.Endpoint) throws {
        let configuration = try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_ADDR": raw])
        #expect(configuration.endpoint == expected)
    }

    @Test func sslMakesASchemelessAddressHTTPS() throws {
        let configuration = try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_ADDR": "consul:8501", "CONSUL_HTTP_SSL": "true"])
        #expect(configuration.endpoint == .https(host: "consul", port: 8501))
        let explicit = try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_ADDR": "http://consul:8500", "CONSUL_HTTP_SSL": "1"])
        #expect(explicit.endpoint == .http(host: "consul", port: 8500))
    }

    @Test(arguments: [
        ("ftp://consul:21", "unknown scheme"),
        ("consul:http", "invalid port"),
        ("consul:0", "invalid port"),
        ("consul:70000", "invalid port"),
        ("::1:8500", "IPv6"),
        ("[::1:8500", "unclosed"),
        ("http://consul:8500/v1", "path"),
        ("http://:8500", "no host"),
        ("unix://", "no socket path"),
        ("con sul:8500", "host"),
    ])
    func badAddressesAreRejectedWithTheReason(raw: String, reason: String) {
        let error = #expect(throws: ConsulError.self) {
            try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_ADDR": raw])
        }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
    }

    @Test func tokenFileWinsOverTheTokenAndIsTrimmed() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("consul-token-\(UUID().uuidString)")
        try "  file-token\n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let configuration = try ConsulConfiguration.fromEnvironment([
            "CONSUL_HTTP_TOKEN": "env-token", "CONSUL_HTTP_TOKEN_FILE": file.path,
        ])
        #expect(configuration.token == "file-token")
        #expect(try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_TOKEN": "env-token"]).token == "env-token")
    }

    @Test func missingOrEmptyTokenFileIsAnError() throws {
        let missing = #expect(throws: ConsulError.self) {
            try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_TOKEN_FILE": "/nonexistent/consul-token"])
        }
        #expect(missing?.code == .configuration)
        #expect(missing?.message.contains("/nonexistent/consul-token") == true)
        #expect(missing?.cause != nil)

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("consul-token-\(UUID().uuidString)")
        try " \n".write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let empty = #expect(throws: ConsulError.self) {
            try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_TOKEN_FILE": file.path])
        }
        #expect(empty?.message.contains("is empty") == true)
    }

    @Test func tlsSettingsAreRead() throws {
        let configuration = try ConsulConfiguration.fromEnvironment([
            "CONSUL_HTTP_ADDR": "https://10.0.0.1:8501",
            "CONSUL_CACERT": "/etc/consul/ca.pem", "CONSUL_CAPATH": "/etc/consul/cas",
            "CONSUL_CLIENT_CERT": "/etc/consul/client.pem", "CONSUL_CLIENT_KEY": "/etc/consul/client-key.pem",
            "CONSUL_TLS_SERVER_NAME": "server.dc1.consul", "CONSUL_HTTP_SSL_VERIFY": "false",
        ])
        #expect(configuration.tls.caFile == "/etc/consul/ca.pem")
        #expect(configuration.tls.caPath == "/etc/consul/cas")
        #expect(configuration.tls.certificateFile == "/etc/consul/client.pem")
        #expect(configuration.tls.keyFile == "/etc/consul/client-key.pem")
        #expect(configuration.tls.serverName == "server.dc1.consul")
        #expect(configuration.tls.verify == false)

        let session = CurlSessionOptions(configuration)
        #expect(session.baseURL == "https://server.dc1.consul:8501")
        #expect(session.connectTo == "server.dc1.consul:8501:10.0.0.1:8501")
    }

    @Test(arguments: ["CONSUL_HTTP_SSL", "CONSUL_HTTP_SSL_VERIFY"])
    func badBooleansAreRejected(name: String) {
        let error = #expect(throws: ConsulError.self) {
            try ConsulConfiguration.fromEnvironment([name: "yes please"])
        }
        #expect(error?.code == .configuration)
        #expect(error?.message.contains(name) == true)
    }

    @Test func goBooleanSpellingsAreAccepted() throws {
        for (raw, expected) in [("1", true), ("t", true), ("TRUE", true), ("0", false), ("F", false), ("False", false)] {
            #expect(try ConsulConfiguration.parseBool(raw, name: "X") == expected)
        }
    }

    @Test func clientCertificateNeedsItsKey() {
        let error = #expect(throws: ConsulError.self) {
            try ConsulConfiguration.fromEnvironment(["CONSUL_CLIENT_CERT": "/etc/consul/client.pem"])
        }
        #expect(error?.message.contains("CONSUL_CLIENT_KEY") == true)
    }

    @Test func basicAuthIsUserAndPassword() throws {
        let full = try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_AUTH": "admin:s3cr:et"])
        #expect(full.basicAuth == .init(username: "admin", password: "s3cr:et"))
        let userOnly = try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_AUTH": "admin"])
        #expect(userOnly.basicAuth == .init(username: "admin", password: ""))
        #expect(throws: ConsulError.self) { try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_AUTH": ":pw"]) }
    }

    @Test func codeConfigurationIsValidated() {
        var configuration = ConsulConfiguration()
        configuration.token = "abc\r\nX-Injected: 1"
        #expect(throws: ConsulError.self) { try configuration.validate() }
        #expect(throws: ConsulError.self) { try ConsulClient(configuration: configuration) }

        configuration = ConsulConfiguration()
        configuration.endpoint = .http(host: "127.0.0.1", port: 0)
        #expect(throws: ConsulError.self) { try configuration.validate() }

        configuration = ConsulConfiguration()
        configuration.maxResponseBodySize = 0
        #expect(throws: ConsulError.self) { try configuration.validate() }

        configuration = ConsulConfiguration()
        configuration.requestTimeout = .zero
        #expect(throws: ConsulError.self) { try configuration.validate() }
    }

    @Test func endpointsDescribeThemselvesLikeConsulHTTPAddr() {
        #expect("\(ConsulConfiguration.Endpoint.http(host: "::1", port: 8500))" == "http://[::1]:8500")
        #expect("\(ConsulConfiguration.Endpoint.unix(path: "/tmp/c.sock"))" == "unix:///tmp/c.sock")
        #expect(CurlSessionOptions(ConsulConfiguration()).baseURL == "http://127.0.0.1:8500")
    }
}
