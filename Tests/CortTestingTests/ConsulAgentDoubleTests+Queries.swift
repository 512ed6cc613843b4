import CortTesting
import Foundation
import Testing

/// The read endpoints: health, catalog, agent services, status leader.
@Suite("ConsulAgentDouble: queries")
struct ConsulAgentDoubleQueryTests {
    @Test func healthHasTheAgentsShape() async throws {
        try await withConsul { _, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            let answer = try await http.get("/v1/health/service/greeter")
            #expect(answer.status == 200)
            #expect(answer.header("Content-Type") == "application/json")
            let entry = try #require(try answer.entries().first)
            let node = try #require(entry["Node"] as? [String: Any])
            #expect(node["Node"] as? String == "cort-double")
            #expect(node["Address"] as? String == "127.0.0.1")
            #expect(node["Datacenter"] as? String == "dc1")
            #expect(node["TaggedAddresses"] as? [String: String] == ["lan": "127.0.0.1"])
            #expect((node["Meta"] as? [String: String])?.isEmpty == true)
            let service = try #require(entry["Service"] as? [String: Any])
            #expect(service["ID"] as? String == "greeter-7f3a")
            #expect(service["Service"] as? String == "greeter")
            #expect(service["Name"] == nil)
            #expect(service["Tags"] as? [String] == ["v1"])
            #expect(service["Address"] as? String == "10.0.0.5")
            #expect(service["Meta"] as? [String: String] == ["cort_protocol": "1"])
            #expect(service["Weights"] as? [String: Int] == ["Passing": 1, "Warning": 1])
            let checks = try #require(entry["Checks"] as? [[String: Any]])
            #expect(checks.map { $0["CheckID"] as? String } == ["serfHealth", "service:greeter-7f3a"])
            #expect(checks[0]["Name"] as? String == "Serf Health Status")
            #expect(checks[0]["ServiceTags"] as? [String] == [])
            #expect(checks[1]["ServiceID"] as? String == "greeter-7f3a")
            #expect(checks[1]["ServiceName"] as? String == "greeter")
            #expect(checks[1]["ServiceTags"] as? [String] == ["v1"])
            #expect(checks[1]["Status"] as? String == "passing")
        }
    }

    @Test func emptyArraysAreNeverNullAndAnUnknownServiceIsAnEmptyArray() async throws {
        try await withConsul { _, http, _ async throws in
            let unknown = try await http.get("/v1/health/service/nobody")
            #expect(unknown.status == 200)
            #expect(unknown.text == "[]")
            #expect(try await http.put("/v1/agent/service/register", #"{"Name":"bare"}"#).status == 200)
            let bare = try await http.get("/v1/health/service/bare")
            let entry = try #require(try bare.entries().first)
            let service = try #require(entry["Service"] as? [String: Any])
            #expect(service["Tags"] as? [String] == [])
            #expect(service["Address"] as? String == "")
            #expect((entry["Checks"] as? [Any])?.count == 1)
            #expect(!bare.text.contains("null"))
        }
    }

    @Test(arguments: ["?passing", "?passing=1", "?passing=true", "?passing=T"])
    func passingDropsInstancesWithAnyCheckNotPassing(query: String) async throws {
        try await withConsul { _, http, _ async throws in
            for (id, status) in [("a", "passing"), ("b", "warning"), ("c", "critical")] {
                let body = #"{"ID":"\#(id)","Name":"svc","Check":{"TTL":"10s","Status":"\#(status)"}}"#
                #expect(try await http.put("/v1/agent/service/register", body).status == 200)
            }
            let all = try await http.get("/v1/health/service/svc")
            #expect(try all.entries().count == 3)
            let passing = try await http.get("/v1/health/service/svc\(query)")
            let ids = try passing.entries().compactMap { ($0["Service"] as? [String: Any])?["ID"] as? String }
            #expect(ids == ["a"])
            #expect(passing.index == all.index)
        }
    }

    @Test func passingFalseDoesNotFilterAndABadValueGets400() async throws {
        try await withConsul { _, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", #"{"ID":"a","Name":"svc","Check":{"TTL":"1s"}}"#).status == 200)
            #expect(try await http.get("/v1/health/service/svc?passing=false").entries().count == 1)
            let bad = try await http.get("/v1/health/service/svc?passing=yes")
            #expect(bad.status == 400)
            #expect(bad.text == "Invalid value for ?passing")
        }
    }

    @Test func aFailingSerfHealthDropsEveryInstanceFromPassing() async throws {
        try await withConsul { consul, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            consul.setSerfHealth("critical")
            #expect(try await http.get("/v1/health/service/greeter?passing").text == "[]")
            #expect(try await http.get("/v1/health/service/greeter").entries().count == 1)
        }
    }

    @Test func repeatedTagsMustAllMatch() async throws {
        try await withConsul { _, http, _ async throws in
            for (id, tags) in [("a", #"["v1","blue"]"#), ("b", #"["v1"]"#), ("c", #"["blue"]"#)] {
                #expect(try await http.put("/v1/agent/service/register", #"{"ID":"\#(id)","Name":"svc","Tags":\#(tags)}"#).status == 200)
            }
            func ids(_ query: String) async throws -> [String] {
                try await http.get("/v1/health/service/svc\(query)").entries()
                    .compactMap { ($0["Service"] as? [String: Any])?["ID"] as? String }
            }
            #expect(try await ids("?tag=v1") == ["a", "b"])
            #expect(try await ids("?tag=v1&tag=blue") == ["a"])
            #expect(try await ids("?tag=green") == [])
        }
    }

    @Test func staleAndConsistentTogetherGet400() async throws {
        try await withConsul { _, http, _ async throws in
            #expect(try await http.get("/v1/health/service/g?stale").status == 200)
            #expect(try await http.get("/v1/health/service/g?consistent").status == 200)
            let both = try await http.get("/v1/health/service/g?stale&consistent")
            #expect(both.status == 400)
            #expect(both.text == "Cannot specify ?stale with ?consistent, conflicting semantics.")
        }
    }

    @Test func everyReadAnswerCarriesIndexKnownLeaderAndLastContact() async throws {
        try await withConsul { _, http, _ async throws in
            for target in ["/v1/health/service/g", "/v1/catalog/services"] {
                let answer = try await http.get(target)
                #expect((answer.index ?? 0) >= 1)
                #expect(answer.header("X-Consul-KnownLeader") == "true")
                #expect(answer.header("X-Consul-LastContact") == "0")
            }
        }
    }

    @Test func catalogServicesListsNamesWithTheirTags() async throws {
        try await withConsul { _, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            #expect(try await http.put("/v1/agent/service/register", #"{"ID":"g2","Name":"greeter","Tags":["v2","v1"]}"#).status == 200)
            let answer = try await http.get("/v1/catalog/services")
            let services = try #require(try answer.json() as? [String: [String]])
            #expect(services == ["consul": [], "greeter": ["v1", "v2"]])
        }
    }

    @Test func agentServicesIsAMapByID() async throws {
        try await withConsul { _, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            let answer = try await http.get("/v1/agent/services")
            let services = try #require(try answer.json() as? [String: [String: Any]])
            #expect(Array(services.keys) == ["greeter-7f3a"])
            #expect(services["greeter-7f3a"]?["Service"] as? String == "greeter")
            #expect(services["greeter-7f3a"]?["Port"] as? Int == 5555)
            #expect(answer.header("X-Consul-Index") == nil)
        }
    }

    @Test func statusLeaderNamesTheLeaderOrIsEmpty() async throws {
        try await withConsul { consul, http, _ async throws in
            #expect(try await http.get("/v1/status/leader").text == #""127.0.0.1:8300""#)
            consul.setNoLeader(true)
            let none = try await http.get("/v1/status/leader")
            #expect(none.status == 200)
            #expect(none.text == #""""#)
        }
    }

    @Test func anUnknownPathGets404() async throws {
        try await withConsul { _, http, _ async throws in
            #expect(try await http.get("/v1/kv/x").status == 404)
        }
    }
}
