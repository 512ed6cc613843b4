import CortTesting
import Foundation
import Testing

/// A registration whose TTL outlives every wait in these tests.
private let longLived = #"{"ID":"greeter-7f3a","Name":"greeter","Check":{"TTL":"1h","Status":"passing"}}"#

/// Blocking queries: index and wait, wake-ups, timeouts, jitter, limits.
@Suite("ConsulAgentDouble: blocking queries")
struct ConsulAgentDoubleBlockingTests {
    @Test func indexAbsentOrZeroAnswersAtOnce() async throws {
        try await withConsul { consul, http, _ async throws in
            let zero = try await http.get("/v1/health/service/g?index=0&wait=1m")
            let absent = try await http.get("/v1/health/service/g?wait=1m")
            #expect(zero.status == 200)
            #expect(absent.status == 200)
            #expect(consul.blockedQueryCount == 0)
        }
    }

    @Test func aChangeWakesABlockedHealthQuery() async throws {
        try await withConsul { consul, http, _ async throws in
            let first = try await http.get("/v1/health/service/greeter")
            let index = try #require(first.index)
            async let blocked = http.get("/v1/health/service/greeter?index=\(index)&wait=5m")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            let answer = try await blocked
            #expect(try #require(answer.index) > index)
            #expect(try answer.entries().count == 1)
        }
    }

    @Test func aTTLExpiryWakesABlockedHealthQuery() async throws {
        try await withConsul { consul, http, clock async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            let index = try #require(try await http.get("/v1/health/service/greeter?passing").index)
            async let blocked = http.get("/v1/health/service/greeter?passing&index=\(index)&wait=5m")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            clock.advance(by: .seconds(10))
            let answer = try await blocked
            #expect(try #require(answer.index) > index)
            #expect(answer.text == "[]")
        }
    }

    @Test func aTimeoutAnswers200WithTheSameBodyAndIndex() async throws {
        try await withConsul { consul, http, clock async throws in
            #expect(try await http.put("/v1/agent/service/register", longLived).status == 200)
            let first = try await http.get("/v1/health/service/greeter")
            let index = try #require(first.index)
            async let blocked = http.get("/v1/health/service/greeter?index=\(index)&wait=30s")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            clock.advance(by: .seconds(30))
            let answer = try await blocked
            #expect(answer.status == 200)
            #expect(answer.index == index)
            #expect(answer.body == first.body)
        }
    }

    @Test func aChangeToAnotherServiceDoesNotWakeTheQuery() async throws {
        try await withConsul { consul, http, clock async throws in
            #expect(try await http.put("/v1/agent/service/register", longLived).status == 200)
            let index = try #require(try await http.get("/v1/health/service/greeter").index)
            async let blocked = http.get("/v1/health/service/greeter?index=\(index)&wait=30s")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            #expect(try await http.put("/v1/agent/service/register", #"{"Name":"other","Check":{"TTL":"1h"}}"#).status == 200)
            #expect(try await http.put("/v1/agent/check/pass/service:other").status == 200)
            #expect(consul.blockedQueryCount == 1)
            clock.advance(by: .seconds(30))
            #expect(try await blocked.index == index)
        }
    }

    @Test func jitterAddsUpToASixteenthOfTheWait() async throws {
        try await withConsul(configure: { $0.jitter = { $0 } }) { consul, http, clock async throws in
            let index = try #require(try await http.get("/v1/catalog/services").index)
            async let blocked = http.get("/v1/catalog/services?index=\(index)&wait=32s")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            clock.advance(by: .seconds(33))
            #expect(consul.blockedQueryCount == 1)
            clock.advance(by: .seconds(1))
            #expect(try await blocked.status == 200)
        }
    }

    @Test func theJitterFunctionCannotExceedItsLimit() async throws {
        try await withConsul(configure: { $0.jitter = { $0 * 100 } }) { consul, http, clock async throws in
            let index = try #require(try await http.get("/v1/catalog/services").index)
            async let blocked = http.get("/v1/catalog/services?index=\(index)&wait=16s")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            clock.advance(by: .seconds(17))
            #expect(try await blocked.status == 200)
        }
    }

    @Test func waitIsCappedAtTenMinutes() async throws {
        try await withConsul { consul, http, clock async throws in
            let index = try #require(try await http.get("/v1/catalog/services").index)
            async let blocked = http.get("/v1/catalog/services?index=\(index)&wait=1h")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            clock.advance(by: .seconds(599))
            #expect(consul.blockedQueryCount == 1)
            clock.advance(by: .seconds(1))
            #expect(try await blocked.index == index)
        }
    }

    @Test func theDefaultWaitIsFiveMinutes() async throws {
        try await withConsul { consul, http, clock async throws in
            let index = try #require(try await http.get("/v1/health/service/g").index)
            async let blocked = http.get("/v1/health/service/g?index=\(index)")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            clock.advance(by: .seconds(299))
            #expect(consul.blockedQueryCount == 1)
            clock.advance(by: .seconds(1))
            #expect(try await blocked.status == 200)
        }
    }

    @Test(arguments: [
        ("?index=1&wait=30", "Invalid wait time"),
        ("?index=1&wait=soon", "Invalid wait time"),
        ("?index=abc&wait=1s", "Invalid index"),
        ("?index=-1", "Invalid index"),
    ])
    func badIndexOrWaitGets400(query: String, message: String) async throws {
        try await withConsul { consul, http, _ async throws in
            for target in ["/v1/health/service/g", "/v1/catalog/services"] {
                let answer = try await http.get(target + query)
                #expect(answer.status == 400)
                #expect(answer.text == message)
            }
            #expect(consul.blockedQueryCount == 0)
        }
    }

    @Test func goDurationsWithUnitsAreAccepted() async throws {
        try await withConsul { consul, http, clock async throws in
            let index = try #require(try await http.get("/v1/health/service/g").index)
            async let blocked = http.get("/v1/health/service/g?index=\(index)&wait=1m30s")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            clock.advance(by: .seconds(89))
            #expect(consul.blockedQueryCount == 1)
            clock.advance(by: .milliseconds(1000))
            #expect(try await blocked.status == 200)
        }
    }

    @Test func catalogServicesBlocksUntilTheServicesChange() async throws {
        try await withConsul { consul, http, _ async throws in
            let index = try #require(try await http.get("/v1/catalog/services").index)
            async let blocked = http.get("/v1/catalog/services?index=\(index)&wait=5m")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            let answer = try await blocked
            #expect(try #require(answer.index) > index)
            #expect((try answer.json() as? [String: [String]])?["greeter"] == ["v1"])
        }
    }

    @Test func theIndexIsNeverZero() async throws {
        try await withConsul { consul, http, _ async throws in
            consul.rewindIndex(to: 0)
            let health = try await http.get("/v1/health/service/g")
            let catalog = try await http.get("/v1/catalog/services")
            #expect(health.header("X-Consul-Index") == "1")
            #expect(catalog.header("X-Consul-Index") == "1")
        }
    }
}
