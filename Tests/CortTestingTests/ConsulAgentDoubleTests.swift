import CortTesting
import Foundation
import Testing

@Suite("ConsulAgentDouble")
struct ConsulAgentDoubleTests {
    @Test func registerThenHealthShowsTheService() async throws {
        let consul = try await ConsulAgentDouble.start(clock: TestClock())
        let http = TestHTTPClient(address: consul.address)
        let register = try await http.put("/v1/agent/service/register", #"""
            {"ID":"greeter-7f3a","Name":"greeter","Tags":["v1"],"Address":"10.0.0.5","Port":5555,
             "Meta":{"cort_protocol":"1"},"Check":{"TTL":"10s","Status":"passing","DeregisterCriticalServiceAfter":"1m"}}
            """#)
        #expect(register.status == 200)
        #expect(register.body.isEmpty)
        let health = try await http.get("/v1/health/service/greeter?passing")
        #expect(health.status == 200)
        let entries = try health.entries()
        #expect(entries.count == 1)
        let service = try #require(entries.first?["Service"] as? [String: Any])
        #expect(service["Service"] as? String == "greeter")
        #expect(service["Port"] as? Int == 5555)
        await consul.stop()
    }
}
