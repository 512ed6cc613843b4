import Testing
@testable import Cort

/// Choosing a backend from the environment.
@Suite struct DiscoveryEnvironmentTests {
    @Test func theVariablesChooseTheBackend() throws {
        #expect(try DiscoveryEnvironment.discovery([:]) is LocalDiscovery)
        #expect(try DiscoveryEnvironment.discovery(["CORT_STATIC_SERVICES": "greeter=tcp://127.0.0.1:5555"]) is StaticDiscovery)
        let consul = try DiscoveryEnvironment.discovery(["CONSUL_HTTP_ADDR": "127.0.0.1:8600", "CONSUL_HTTP_TOKEN": "t"])
        let chosen = try #require(consul as? ConsulDiscovery)
        #expect(chosen.configuration.consul.endpoint == .http(host: "127.0.0.1", port: 8600))
        #expect(chosen.configuration.consul.token == "t")
        chosen.shutdown()
        #expect(try DiscoveryEnvironment.discovery(["CORT_DISCOVERY": "local", "CONSUL_HTTP_ADDR": "x:1"]) is LocalDiscovery)
        let defaultAgent = try #require(try DiscoveryEnvironment.discovery(["CORT_DISCOVERY": "consul"]) as? ConsulDiscovery)
        #expect(defaultAgent.configuration.consul.endpoint == .http(host: "127.0.0.1", port: 8500))
        defaultAgent.shutdown()
    }

    @Test func badValuesAreClearErrors() {
        for environment in [["CORT_DISCOVERY": "etcd"], ["CORT_DISCOVERY": "static"],
                            ["CONSUL_HTTP_ADDR": "http://"], ["CORT_DISCOVERY": "consul", "CONSUL_HTTP_SSL_VERIFY": "maybe"]] {
            do {
                _ = try DiscoveryEnvironment.discovery(environment)
                Issue.record("\(environment) is not a valid choice")
            } catch let error as DiscoveryError {
                #expect(error.code == .malformedConfiguration, "\(error)")
            } catch {
                Issue.record("\(environment): \(error)")
            }
        }
    }
}
