import Cort
import Testing
@testable import CortConsul

/// Choosing Consul from the environment: `DiscoveryEnvironment.discovery(backends: [.consul])`.
@Suite struct DiscoveryEnvironmentConsulTests {
    static func discovery(_ environment: [String: String]) throws -> any Discovery {
        try DiscoveryEnvironment.discovery(environment, backends: [.consul])
    }

    @Test func theVariablesChooseTheBackend() throws {
        #expect(try Self.discovery([:]) is LocalDiscovery)
        #expect(try Self.discovery(["CORT_STATIC_SERVICES": "greeter=tcp://127.0.0.1:5555"]) is StaticDiscovery)
        let consul = try Self.discovery(["CONSUL_HTTP_ADDR": "127.0.0.1:8600", "CONSUL_HTTP_TOKEN": "t"])
        let chosen = try #require(consul as? ConsulDiscovery)
        #expect(chosen.configuration.consul.endpoint == .http(host: "127.0.0.1", port: 8600))
        #expect(chosen.configuration.consul.token == "t")
        chosen.shutdown()
        #expect(try Self.discovery(["CORT_DISCOVERY": "local", "CONSUL_HTTP_ADDR": "x:1"]) is LocalDiscovery)
        let defaultAgent = try #require(try Self.discovery(["CORT_DISCOVERY": "consul"]) as? ConsulDiscovery)
        #expect(defaultAgent.configuration.consul.endpoint == .http(host: "127.0.0.1", port: 8500))
        defaultAgent.shutdown()
        let named = try #require(try Self.discovery(["CORT_DISCOVERY": "Consul"]) as? ConsulDiscovery)
        named.shutdown()
    }

    @Test func badValuesAreClearErrors() {
        for environment in [["CORT_DISCOVERY": "etcd"], ["CORT_DISCOVERY": "static"],
                            ["CONSUL_HTTP_ADDR": "http://"], ["CORT_DISCOVERY": "consul", "CONSUL_HTTP_SSL_VERIFY": "maybe"]] {
            do {
                _ = try Self.discovery(environment)
                Issue.record("\(environment) is not a valid choice")
            } catch let error as DiscoveryError {
                #expect(error.code == .malformedConfiguration, "\(error)")
            } catch {
                Issue.record("\(environment): \(error)")
            }
        }
        let unknown = #expect(throws: DiscoveryError.self) { try Self.discovery(["CORT_DISCOVERY": "etcd"]) }
        #expect(unknown?.message == "CORT_DISCOVERY=etcd: the backends are static, local, consul")
    }

    @Test func theCheckDurationsAreReadAsGoDurations() throws {
        let environment = ["CONSUL_HTTP_ADDR": "127.0.0.1:8600", "CORT_CONSUL_TTL": "1m30s",
                           "CORT_CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER": "2h"]
        let chosen = try #require(try Self.discovery(environment) as? ConsulDiscovery)
        #expect(chosen.configuration.ttl == .seconds(90))
        #expect(chosen.configuration.deregisterCriticalServiceAfter == .seconds(7200))
        chosen.shutdown()
        let fractional = try ConsulDiscovery.fromEnvironment(["CORT_CONSUL_TTL": "500ms", "CORT_CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER": ""])
        #expect(fractional.configuration.ttl == .milliseconds(500))
        #expect(fractional.configuration.deregisterCriticalServiceAfter == .seconds(60), "empty counts as unset")
        fractional.shutdown()
        let defaults = try ConsulDiscovery.fromEnvironment([:])
        #expect(defaults.configuration.ttl == .seconds(10))
        #expect(defaults.configuration.deregisterCriticalServiceAfter == .seconds(60))
        defaults.shutdown()
    }

    @Test(arguments: [
        ("CORT_CONSUL_TTL", "10"), ("CORT_CONSUL_TTL", "ten seconds"), ("CORT_CONSUL_TTL", "0s"),
        ("CORT_CONSUL_TTL", "0"), ("CORT_CONSUL_TTL", "-5s"), ("CORT_CONSUL_TTL", "10x"),
        ("CORT_CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER", "1d"), ("CORT_CONSUL_DEREGISTER_CRITICAL_SERVICE_AFTER", "-1m"),
    ])
    func malformedCheckDurationsAreRefusedNamingTheVariable(variable: String, value: String) {
        do {
            let discovery = try Self.discovery(["CORT_DISCOVERY": "consul", variable: value])
            Issue.record("\(variable)=\(value) was accepted: \(discovery)")
        } catch let error as DiscoveryError {
            #expect(error.code == .malformedConfiguration)
            #expect(error.message.hasPrefix("\(variable)=\(value): "), "\(error.message)")
        } catch {
            Issue.record("\(error)")
        }
    }
}
