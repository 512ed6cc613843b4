import CortTesting
import Foundation
import Testing

/// Starts a double on a ``TestClock`` (no jitter unless given), runs `body`
/// with a client for it, and stops it whatever happens.
func withConsul(
    configure: (inout ConsulAgentDouble.Configuration) -> Void = { _ in },
    _ body: (ConsulAgentDouble, TestHTTPClient, TestClock) async throws -> Void
) async throws {
    let clock = TestClock()
    var configuration = ConsulAgentDouble.Configuration()
    configuration.jitter = { _ in .zero }
    configure(&configuration)
    let consul = try await ConsulAgentDouble.start(clock: clock, configuration: configuration)
    do {
        try await body(consul, TestHTTPClient(address: consul.address), clock)
    } catch {
        await consul.stop()
        throw error
    }
    await consul.stop()
}

let greeter = #"""
    {"ID":"greeter-7f3a","Name":"greeter","Tags":["v1"],"Address":"10.0.0.5","Port":5555,
     "Meta":{"cort_protocol":"1"},"Check":{"TTL":"10s","Status":"passing","DeregisterCriticalServiceAfter":"1m"}}
    """#

/// Registration: `PUT /v1/agent/service/register` and deregistration.
@Suite("ConsulAgentDouble: registration")
struct ConsulAgentDoubleTests {
    @Test func registerAnswers200WithAnEmptyBodyAndStoresTheService() async throws {
        try await withConsul { consul, http, _ async throws in
            let answer = try await http.put("/v1/agent/service/register", greeter)
            #expect(answer.status == 200)
            #expect(answer.body.isEmpty)
            let service = try #require(consul.services.first)
            #expect(service == .init(id: "greeter-7f3a", name: "greeter", tags: ["v1"], address: "10.0.0.5",
                                     port: 5555, meta: ["cort_protocol": "1"]))
            let check = try #require(consul.check("service:greeter-7f3a"))
            #expect(check.status == "passing")
            #expect(check.name == "Service 'greeter' check")
            #expect(check.ttl == .seconds(10))
            #expect(check.deregisterCriticalServiceAfter == .seconds(60))
        }
    }

    @Test func idDefaultsToTheName() async throws {
        try await withConsul { consul, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", #"{"Name":"greeter","Port":1}"#).status == 200)
            #expect(consul.services.map(\.id) == ["greeter"])
        }
    }

    @Test func fieldNamesMatchInAnyCaseAndTheAgentsSnakeCaseAliasesAreAccepted() async throws {
        try await withConsul { consul, http, _ async throws in
            let body = #"""
                {"id":"a","NAME":"greeter","tAgS":["x"],"port":7,"enable_tag_override":true,
                 "check":{"ttl":"5s","status":"warning","deregister_critical_service_after":"2m"}}
                """#
            #expect(try await http.put("/v1/agent/service/register", body).status == 200)
            #expect(consul.services.first?.tags == ["x"])
            #expect(consul.check("service:a")?.status == "warning")
            #expect(consul.check("service:a")?.deregisterCriticalServiceAfter == .seconds(120))
        }
    }

    @Test(arguments: [
        (#"{"Name":"g","Bogus":1}"#, #"Request decode failed: json: unknown field "Bogus""#),
        (#"{"Name":"g","enableTagOverride_x":1}"#, #"Request decode failed: json: unknown field "enableTagOverride_x""#),
        (#"{"Name":"g","Check":{"TTL":"1s","Nope":true}}"#, #"Request decode failed: json: unknown field "Nope""#),
        (#"{"Name":"g","deregister_critical_service_after":"1m"}"#,
         #"Request decode failed: json: unknown field "deregister_critical_service_after""#),
        ("", "Request decode failed: EOF"),
        ("{not json", "Request decode failed: invalid character in JSON input"),
        ("[1,2]", "Request decode failed: json: cannot unmarshal array into Go value of type structs.ServiceDefinition"),
        (#"{"Name":"g","Port":"80"}"#,
         "Request decode failed: json: cannot unmarshal string into Go struct field ServiceDefinition.Port of type int"),
        (#"{"Name":"g","Tags":"v1"}"#,
         "Request decode failed: json: cannot unmarshal string into Go struct field ServiceDefinition.Tags of type []string"),
        (#"{"Name":"g","Check":{"TTL":"ten"}}"#, #"Request decode failed: time: invalid duration "ten""#),
        (#"{"Port":1}"#, "Missing service name"),
        (#"{"Name":"g","Address":"0.0.0.0"}"#, "Invalid service address"),
        (#"{"Name":"g","Address":"::"}"#, "Invalid service address"),
        (#"{"Name":"g","Meta":{"a.b":"v"}}"#,
         "Invalid Service Meta: Couldn't load metadata pair ('a.b', 'v'): Key contains invalid characters"),
        (#"{"Name":"g","Meta":{"consul-x":"v"}}"#,
         "Invalid Service Meta: Couldn't load metadata pair ('consul-x', 'v'): Key prefix 'consul-' is reserved for internal use"),
        (#"{"Name":"g","Check":{"TTL":"0s","Status":"passing"}}"#, "Invalid check: TTL must be > 0 for TTL checks"),
        (#"{"Name":"g","Checks":[{"Notes":"no ttl"}]}"#, "Invalid check: TTL must be > 0 for TTL checks"),
        (#"{"Name":"g","Check":{"TTL":"10s","Interval":"10s"}}"#, "Invalid check: Interval and TTL cannot both be specified"),
        (#"{"Name":"g","Check":{"HTTP":"http://x/"}}"#,
         "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP or UDP checks"),
        (#"{"Name":"g","Check":{"TTL":"10s","Status":"ok"}}"#, "Status for checks must 'passing', 'warning', 'critical'"),
    ])
    func badRegistrationsGet400WithTheAgentsTextAndChangeNothing(body: String, message: String) async throws {
        try await withConsul { consul, http, _ async throws in
            let indexBefore = consul.index
            let answer = try await http.put("/v1/agent/service/register", body)
            #expect(answer.status == 400)
            #expect(answer.text == message)
            #expect(consul.services.isEmpty)
            #expect(consul.index == indexBefore)
        }
    }

    @Test func aHugeBodyGets400AndTheDoubleKeepsServing() async throws {
        try await withConsul(configure: { $0.maximumBodySize = 64 * 1024 }) { consul, http, _ async throws in
            let huge = Data(repeating: UInt8(ascii: "x"), count: 256 * 1024)
            let answer = try await http.send("PUT", "/v1/agent/service/register", data: huge)
            #expect(answer.status == 400)
            #expect(answer.text == "Request decode failed: http: request body too large")
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            #expect(consul.services.count == 1)
        }
    }

    @Test func aMethodOtherThanPUTGets405WithAllow() async throws {
        try await withConsul { _, http, _ async throws in
            let answer = try await http.get("/v1/agent/service/register")
            #expect(answer.status == 405)
            #expect(answer.header("Allow") == "OPTIONS,PUT")
            let health = try await http.put("/v1/health/service/greeter")
            #expect(health.status == 405)
            #expect(health.header("Allow") == "OPTIONS,GET")
        }
    }

    @Test func checkIDsAndNamesDefaultAndANewCheckStartsCritical() async throws {
        try await withConsul { consul, http, _ async throws in
            let body = #"""
                {"ID":"g1","Name":"greeter","Check":{"TTL":"10s"},
                 "Checks":[{"TTL":"20s","Status":"passing"},{"CheckID":"mine","Name":"Mine","TTL":"5s"}]}
                """#
            #expect(try await http.put("/v1/agent/service/register", body).status == 200)
            let checks = consul.checks
            #expect(checks.map(\.id) == ["mine", "service:g1:1", "service:g1:2"])
            #expect(checks.map(\.name) == ["Mine", "Service 'greeter' check", "Service 'greeter' check"])
            #expect(checks.map(\.status) == ["critical", "critical", "passing"])
        }
    }

    @Test func reRegisteringKeepsCheckStatusAndOutputAndChecksLeftOut() async throws {
        try await withConsul { consul, http, _ async throws in
            let first = #"{"ID":"g1","Name":"greeter","Port":1,"Checks":[{"CheckID":"a","TTL":"10s"},{"CheckID":"b","TTL":"10s"}]}"#
            #expect(try await http.put("/v1/agent/service/register", first).status == 200)
            #expect(try await http.put("/v1/agent/check/pass/a?note=fine").status == 200)
            let second = #"{"ID":"g1","Name":"greeter","Port":2,"Checks":[{"CheckID":"a","TTL":"10s","Status":"critical"}]}"#
            #expect(try await http.put("/v1/agent/service/register", second).status == 200)
            #expect(consul.services.first?.port == 2)
            #expect(consul.check("a")?.status == "passing")
            #expect(consul.check("a")?.output == "fine")
            #expect(consul.check("b") != nil)
            #expect(try await http.put("/v1/agent/service/register?replace-existing-checks", second).status == 200)
            #expect(consul.checks.map(\.id) == ["a"])
        }
    }

    @Test func reRegisteringRestartsTheTTLTimer() async throws {
        try await withConsul { consul, http, clock async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            clock.advance(by: .seconds(8))
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            clock.advance(by: .seconds(8))
            #expect(consul.check("service:greeter-7f3a")?.status == "passing")
            clock.advance(by: .seconds(3))
            #expect(consul.check("service:greeter-7f3a")?.status == "critical")
        }
    }

    @Test func deregisterRemovesTheServiceAndItsChecks() async throws {
        try await withConsul { consul, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            #expect(try await http.put("/v1/agent/service/deregister/greeter-7f3a").status == 200)
            #expect(consul.services.isEmpty)
            #expect(consul.checks.isEmpty)
        }
    }

    @Test func deregisteringAnUnknownIDGets404() async throws {
        try await withConsul { _, http, _ async throws in
            let answer = try await http.put("/v1/agent/service/deregister/greeter")
            #expect(answer.status == 404)
            #expect(answer.text ==
                #"Unknown service ID "greeter". Ensure that the service ID is passed, not the service name."#)
        }
    }

    @Test func requestsAreRecordedWithHeaders() async throws {
        try await withConsul { consul, http, _ async throws in
            _ = try await http.put("/v1/agent/check/pass/x?note=a%20b", headers: ["X-Consul-Token": "t1"])
            let request = try #require(consul.requests.last)
            #expect(request.method == "PUT")
            #expect(request.path == "/v1/agent/check/pass/x")
            #expect(request.queryValue("note") == "a b")
            #expect(request.header("x-consul-token") == "t1")
            #expect(request.status == 404)
        }
    }
}
