import Testing
@testable import Cort

/// Choosing a backend from the environment, without Consul (CortConsul's
/// DiscoveryEnvironmentConsulTests has the `consul` backend).
@Suite struct DiscoveryEnvironmentTests {
    @Test func theVariablesChooseTheBackend() throws {
        #expect(try DiscoveryEnvironment.discovery([:]) is LocalDiscovery)
        #expect(try DiscoveryEnvironment.discovery(["CORT_STATIC_SERVICES": "greeter=tcp://127.0.0.1:5555"]) is StaticDiscovery)
        #expect(try DiscoveryEnvironment.discovery(["CORT_DISCOVERY": "local", "CONSUL_HTTP_ADDR": "x:1"]) is LocalDiscovery)
        #expect(try DiscoveryEnvironment.discovery(["CORT_DISCOVERY": "Static", "CORT_STATIC_SERVICES": "greeter=tcp://127.0.0.1:5555",
                                                    "CONSUL_HTTP_ADDR": "x:1"]) is StaticDiscovery)
    }

    @Test func badValuesAreClearErrors() {
        for environment in [["CORT_DISCOVERY": "etcd"], ["CORT_DISCOVERY": "static"]] {
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

    @Test func anUnknownBackendIsRefusedNamingTheKnownOnes() {
        let error = #expect(throws: DiscoveryError.self) { try DiscoveryEnvironment.discovery(["CORT_DISCOVERY": "etcd"]) }
        #expect(error?.message == "CORT_DISCOVERY=etcd: the backends are static, local")
        let withBackend = #expect(throws: DiscoveryError.self) {
            try DiscoveryEnvironment.discovery(["CORT_DISCOVERY": "zookeeper"], backends: [Self.fixed])
        }
        #expect(withBackend?.message == "CORT_DISCOVERY=zookeeper: the backends are static, local, fixed")
    }

    /// A program built without CortConsul that is asked for Consul says so,
    /// rather than running on local discovery.
    @Test func consulWithoutCortConsulIsAClearError() throws {
        let named = #expect(throws: DiscoveryError.self) { try DiscoveryEnvironment.discovery(["CORT_DISCOVERY": "consul"]) }
        #expect(named?.code == .malformedConfiguration)
        #expect(named?.message == "CORT_DISCOVERY=consul, but this program was built without consul discovery: add the CortConsul"
            + " product, import CortConsul and call DiscoveryEnvironment.discovery(backends: [.consul])")
        let implied = #expect(throws: DiscoveryError.self) {
            try DiscoveryEnvironment.discovery(["CONSUL_HTTP_ADDR": "127.0.0.1:8500", "CORT_STATIC_SERVICES": "greeter=tcp://127.0.0.1:5555"])
        }
        #expect(implied?.code == .malformedConfiguration)
        #expect(implied?.message.hasPrefix("CONSUL_HTTP_ADDR is set, but this program was built without consul discovery") == true)
        #expect(implied?.message.hasSuffix(", or set CORT_DISCOVERY=static or local to ignore CONSUL_HTTP_ADDR") == true)
        // Empty counts as unset.
        #expect(try DiscoveryEnvironment.discovery(["CONSUL_HTTP_ADDR": ""]) is LocalDiscovery)
    }

    static let fixed = DiscoveryEnvironment.Backend(name: "Fixed", selectingVariable: "FIXED_ENDPOINT") { environment in
        try StaticDiscovery(["greeter": [environment["FIXED_ENDPOINT"] ?? "tcp://127.0.0.1:1"]])
    }

    @Test func aBackendFromAnotherModuleIsChosenByNameOrByItsVariable() throws {
        let named = try #require(try DiscoveryEnvironment.discovery(["CORT_DISCOVERY": "fixed"], backends: [Self.fixed]) as? StaticDiscovery)
        #expect(named.instances["greeter"]?.map(\.endpoint) == ["tcp://127.0.0.1:1"])
        // Its variable comes before CORT_STATIC_SERVICES, as CONSUL_HTTP_ADDR does.
        let implied = try #require(try DiscoveryEnvironment.discovery(
            ["FIXED_ENDPOINT": "tcp://127.0.0.1:2", "CORT_STATIC_SERVICES": "greeter=tcp://127.0.0.1:3"],
            backends: [Self.fixed]) as? StaticDiscovery)
        #expect(implied.instances["greeter"]?.map(\.endpoint) == ["tcp://127.0.0.1:2"])
        #expect(try DiscoveryEnvironment.discovery(["CORT_DISCOVERY": "local", "FIXED_ENDPOINT": "tcp://127.0.0.1:2"],
                                                   backends: [Self.fixed]) is LocalDiscovery)
    }
}
