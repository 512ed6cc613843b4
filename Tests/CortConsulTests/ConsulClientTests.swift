import FlyingFox
import FlyingSocks
import Foundation
import Testing
@testable import CortConsul

@Suite struct ConsulClientTests {
    @Test func registerSendsTheAgentsJSONAndTheToken() async throws {
        try await withStubAgent({ _ in consulAnswer("", index: nil) }) { agent in
            let client = try agent.client { $0.token = "s3cret-token" }
            try await client.register(ConsulServiceRegistration(
                id: "greeter-7f3a", name: "greeter", address: "10.0.0.5", port: 5555,
                tags: ["v1"], meta: ["cort_protocol": "1"],
                check: .init(ttl: .seconds(10), deregisterCriticalServiceAfter: .seconds(90), initialStatus: .passing)),
                replaceExistingChecks: true)
            let seen = try #require(agent.requests.first)
            #expect(seen.method == "PUT")
            #expect(seen.path == "/v1/agent/service/register")
            #expect(seen.query.keys.contains("replace-existing-checks"))
            #expect(seen.headers["x-consul-token"] == "s3cret-token")
            #expect(!seen.rawTarget.contains("s3cret-token"))
            #expect(seen.headers["content-type"] == "application/json")
            let json = try #require(try JSONSerialization.jsonObject(with: seen.body) as? [String: Any])
            #expect(json["ID"] as? String == "greeter-7f3a")
            #expect(json["Name"] as? String == "greeter")
            #expect(json["Address"] as? String == "10.0.0.5")
            #expect(json["Port"] as? Int == 5555)
            #expect(json["Tags"] as? [String] == ["v1"])
            #expect(json["Meta"] as? [String: String] == ["cort_protocol": "1"])
            let check = try #require(json["Check"] as? [String: Any])
            #expect(check["TTL"] as? String == "10s")
            #expect(check["DeregisterCriticalServiceAfter"] as? String == "90s")
            #expect(check["Status"] as? String == "passing")
        }
    }

    @Test func ttlCallsAndDeregisterUseTheirPathsAndNote() async throws {
        try await withStubAgent({ _ in consulAnswer("", index: nil) }) { agent in
            let client = try agent.client()
            try await client.passTTL(checkID: "service:greeter-7f3a", note: "all good & fine")
            try await client.warnTTL(checkID: "service:greeter-7f3a")
            try await client.failTTL(checkID: "service:greeter-7f3a", note: "db down")
            try await client.updateTTL(checkID: "service:greeter-7f3a", status: .passing, output: "back")
            try await client.deregister(serviceID: "greeter/7f3a")
            let seen = agent.requests
            #expect(seen.map(\.method) == ["PUT", "PUT", "PUT", "PUT", "PUT"])
            #expect(seen.prefix(4).map(\.path) == [
                "/v1/agent/check/pass/service:greeter-7f3a", "/v1/agent/check/warn/service:greeter-7f3a",
                "/v1/agent/check/fail/service:greeter-7f3a", "/v1/agent/check/update/service:greeter-7f3a",
            ])
            // A "/" inside an ID is encoded, so it stays one path segment.
            #expect(seen[4].rawTarget == "/v1/agent/service/deregister/greeter%2F7f3a")
            #expect(seen[0].query["note"] == "all good & fine")
            #expect(seen[1].query["note"] == nil)
            let update = try #require(try JSONSerialization.jsonObject(with: seen[3].body) as? [String: String])
            #expect(update == ["Status": "passing", "Output": "back"])
        }
    }

    @Test func healthQueryDecodesEntriesAppliesTheAddressRuleAndReadsTheIndex() async throws {
        let body = "[" + healthEntryJSON(id: "greeter-1", address: "") + ","
            + healthEntryJSON(id: "greeter-2", address: "10.0.0.9", port: 6000, node: "host-b", nodeAddress: "10.1.10.13") + "]"
        try await withStubAgent({ _ in consulAnswer(body, index: 42) }) { agent in
            let client = try agent.client()
            let answer = try await client.healthService("greeter", tags: ["v1", "eu"], index: 40, wait: .seconds(2))
            #expect(answer.index == 42)
            #expect(answer.knownLeader == true)
            #expect(answer.lastContact == .zero)
            #expect(answer.value.map(\.id) == ["greeter-1", "greeter-2"])
            #expect(answer.value[0].address == "10.1.10.12")   // empty Service.Address → Node.Address
            #expect(answer.value[1].address == "10.0.0.9")
            #expect(answer.value[1].port == 6000)
            #expect(answer.value[0].meta == ["cort_protocol": "1"])
            #expect(answer.value[0].checks.map(\.id) == ["serfHealth", "service:greeter-1"])
            #expect(answer.value[0].aggregatedStatus == .passing)
            let seen = try #require(agent.requests.first)
            #expect(seen.path == "/v1/health/service/greeter")
            #expect(seen.rawTarget.contains("?passing&stale&tag=v1&tag=eu&index=40&wait=2s"))
        }
    }

    @Test func unknownServiceIsAnEmptyList() async throws {
        try await withStubAgent({ _ in consulAnswer("[]", index: 3) }) { agent in
            let answer = try await agent.client().healthService("nobody")
            #expect(answer.value.isEmpty)
            #expect(answer.index == 3)
        }
    }

    @Test func catalogServicesAndLeader() async throws {
        try await withStubAgent({ request in
            request.path == "/v1/status/leader"
                ? consulAnswer(#""10.1.10.12:8300""#, index: nil)
                : consulAnswer(#"{"greeter":["v1"],"consul":[],"old":null}"#, index: 8)
        }) { agent in
            let client = try agent.client()
            let services = try await client.catalogServices()
            #expect(services.value == ["greeter": ["v1"], "consul": [], "old": []])
            #expect(services.index == 8)
            let leader = try await client.leader()
            #expect(leader == "10.1.10.12:8300")
        }
        try await withStubAgent({ _ in consulAnswer(#""""#, index: nil) }) { agent in
            let leader = try await agent.client().leader()
            #expect(leader == nil)
        }
    }

    // MARK: Errors from the agent

    @Test func aPassTheAgentForgotAsksForRegistration() async throws {
        try await withStubAgent({ _ in
            consulError(.notFound, #"Unknown check ID "service:greeter-7f3a". Ensure that the check ID is passed, not the check name."#)
        }) { agent in
            let error = await #expect(throws: ConsulError.self) {
                try await agent.client().passTTL(checkID: "service:greeter-7f3a")
            }
            #expect(error?.code == .httpStatus)
            #expect(error?.status == 404)
            #expect(error?.consulMessage?.hasPrefix("Unknown check ID") == true)
            #expect(error?.requiresRegistration == true)
            #expect(error?.isTransient == false)
        }
    }

    @Test(arguments: [
        #"CheckID "service:greeter-7f3a" does not have associated TTL"#,
        #"Unknown check "service:greeter-7f3a""#,
    ])
    func theOld500AlsoAsksForRegistration(text: String) async throws {
        try await withStubAgent({ _ in consulError(.internalServerError, text) }) { agent in
            let error = await #expect(throws: ConsulError.self) {
                try await agent.client().passTTL(checkID: "service:greeter-7f3a")
            }
            #expect(error?.status == 500)
            #expect(error?.requiresRegistration == true)
        }
    }

    @Test func noClusterLeaderIsTransientNotARegistrationProblem() async throws {
        try await withStubAgent({ _ in consulError(.internalServerError, "No cluster leader") }) { agent in
            let error = await #expect(throws: ConsulError.self) {
                try await agent.client().healthService("greeter")
            }
            #expect(error?.consulMessage == "No cluster leader")
            #expect(error?.isTransient == true)
            #expect(error?.requiresRegistration == false)
            #expect(error?.message.contains("GET /v1/health/service/greeter") == true)
        }
    }

    @Test func validationErrorsCarryConsulsMessage() async throws {
        let text = "Invalid Service Meta: Couldn't load metadata pair ('a.b', 'v'): Key contains invalid characters"
        try await withStubAgent({ _ in consulError(.badRequest, text) }) { agent in
            let error = await #expect(throws: ConsulError.self) {
                try await agent.client().register(.init(name: "greeter", meta: ["a.b": "v"]))
            }
            #expect(error?.status == 400)
            #expect(error?.consulMessage == text)
        }
    }

    @Test func permissionDeniedIs403() async throws {
        try await withStubAgent({ _ in consulError(.forbidden, "Permission denied: token with AccessorID '' lacks permission") }) { agent in
            let error = await #expect(throws: ConsulError.self) { try await agent.client().deregister(serviceID: "x") }
            #expect(error?.status == 403)
            #expect(error?.consulMessage?.hasPrefix("Permission denied") == true)
        }
    }

    // MARK: Bad or unexpected answers

    @Test(arguments: [
        ("not json at all", "invalid JSON"),
        (#"[{"Node":{"Node":"a","Address":"1.2.3.4"},"Service":{"ID":"x","Service":"greeter","Port":"5555"}}]"#, "Port"),
        (#"{"Node":{}}"#, "expected"),
        (#"[{"Node":{"Node":"a","Address":"1.2.3.4"}}]"#, "Service"),
        (#"[{"Node":{"Node":"a","Address":"1.2.3.4"},"Service":{"ID":"x","Service":"greeter","Port":5555}"#, "invalid JSON"),
    ])
    func badJSONIsADecodingError(body: String, mention: String) async throws {
        try await withStubAgent({ _ in consulAnswer(body, index: 5) }) { agent in
            let error = await #expect(throws: ConsulError.self) { try await agent.client().healthService("greeter") }
            #expect(error?.code == .decoding)
            #expect(error?.status == 200)
            #expect(error?.cause != nil)
            #expect(error?.message.contains(mention) == true, "\(error?.message ?? "")")
        }
    }

    @Test func anHTMLPageIsNamedNotQuoted() async throws {
        let page = "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1><p>nginx</p></body></html>"
        try await withStubAgent({ request in
            request.path.hasPrefix("/v1/health")
                ? consulAnswer(page, index: 5, contentType: "text/html")
                : consulAnswer(page, index: nil, status: .badGateway, contentType: "text/html")
        }) { agent in
            let client = try agent.client()
            let asError = await #expect(throws: ConsulError.self) { try await client.passTTL(checkID: "c") }
            #expect(asError?.code == .httpStatus)
            #expect(asError?.status == 502)
            #expect(asError?.consulMessage?.contains("HTML page") == true)
            #expect(asError?.message.contains("<html>") == false)
            #expect(asError?.isTransient == true)

            let asAnswer = await #expect(throws: ConsulError.self) { try await client.healthService("greeter") }
            #expect(asAnswer?.code == .decoding)
            #expect(asAnswer?.message.contains("HTML page") == true)
        }
    }

    @Test func aHugeBodyIsRefused() async throws {
        let huge = "[" + String(repeating: " ", count: 300_000) + "]"
        try await withStubAgent({ _ in consulAnswer(huge, index: 5) }) { agent in
            let client = try agent.client { $0.maxResponseBodySize = 64 * 1024 }
            let error = await #expect(throws: ConsulError.self) { try await client.healthService("greeter") }
            #expect(error?.code == .bodyTooLarge)
            #expect(error?.message.contains("65536") == true)
            // The client still works afterwards.
            let small = try agent.client()
            #expect(try await small.healthService("greeter").value.isEmpty)
        }
    }

    @Test func aChunkedHugeBodyIsRefusedInTheWriteCallback() async throws {
        // No Content-Length: only the write callback can stop it.
        try await withStubAgent({ _ in
            let chunks = SpaceBytes(count: 512 * 1024)
            var headers: HTTPHeaders = [.contentType: "application/json"]
            headers[HTTPHeader("X-Consul-Index")] = "5"
            return FlyingFox.HTTPResponse(statusCode: .ok, headers: headers, body: HTTPBodySequence(from: chunks))
        }) { agent in
            let client = try agent.client { $0.maxResponseBodySize = 64 * 1024 }
            let error = await #expect(throws: ConsulError.self) { try await client.healthService("greeter") }
            #expect(error?.code == .bodyTooLarge)
        }
    }

    @Test func aMissingIndexIsADecodingError() async throws {
        try await withStubAgent({ _ in consulAnswer("[]", index: nil) }) { agent in
            let error = await #expect(throws: ConsulError.self) { try await agent.client().healthService("greeter") }
            #expect(error?.code == .decoding)
            #expect(error?.message.contains("X-Consul-Index") == true)
        }
    }

    @Test func emptyNamesAreRefusedBeforeSending() async throws {
        try await withStubAgent({ _ in consulAnswer("[]") }) { agent in
            let client = try agent.client()
            // Typed-throws closures in an array crash the 6.3.1 compiler: one expectation each.
            let health = await #expect(throws: ConsulError.self) { try await client.healthService("") }
            let pass = await #expect(throws: ConsulError.self) { try await client.passTTL(checkID: "") }
            let deregister = await #expect(throws: ConsulError.self) { try await client.deregister(serviceID: "") }
            let register = await #expect(throws: ConsulError.self) { try await client.register(.init(name: "")) }
            #expect([health, pass, deregister, register].map { $0?.code } == Array(repeating: .invalidArgument, count: 4))
            #expect(agent.requests.isEmpty)
        }
    }

    @Test func anUnreachableAgentIsATransportError() async throws {
        var configuration = ConsulConfiguration()
        // Port 1 on loopback: nothing listens there, the connection is refused.
        configuration.endpoint = .http(host: "127.0.0.1", port: 1)
        let client = try ConsulClient(configuration: configuration)
        let error = await #expect(throws: ConsulError.self) { try await client.leader() }
        #expect(error?.code == .transport)
        #expect(error?.isTransient == true)
        #expect(error?.cause is CurlFailure)
    }
}

/// `count` spaces, as a byte sequence of unknown length (so FlyingFox sends it chunked).
private struct SpaceBytes: AsyncBufferedSequence {
    typealias Element = UInt8
    let count: Int

    struct AsyncIterator: AsyncBufferedIteratorProtocol {
        var remaining: Int
        mutating func next() async throws -> UInt8? {
            guard remaining > 0 else { return nil }
            remaining -= 1
            return UInt8(ascii: " ")
        }
        mutating func nextBuffer(suggested count: Int) async throws -> [UInt8]? {
            guard remaining > 0 else { return nil }
            let size = Swift.min(count, remaining)
            remaining -= size
            return [UInt8](repeating: UInt8(ascii: " "), count: size)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: count) }
}
