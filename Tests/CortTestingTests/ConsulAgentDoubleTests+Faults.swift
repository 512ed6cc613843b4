import CortTesting
import Foundation
import Testing

/// ACL tokens and the faults a test can switch on.
@Suite("ConsulAgentDouble: ACLs and faults")
struct ConsulAgentDoubleFaultTests {
    @Test func withACLsATokenIsNeededInTheHeaderOrAsBearer() async throws {
        try await withConsul(configure: { $0.aclToken = "s3cr3t" }) { consul, http, _ async throws in
            let missing = try await http.put("/v1/agent/service/register", greeter)
            #expect(missing.status == 403)
            #expect(missing.text.hasPrefix("Permission denied"))
            let wrong = try await http.put("/v1/agent/service/register", greeter, headers: ["X-Consul-Token": "nope"])
            #expect(wrong.status == 403)
            #expect(wrong.text == "ACL not found")
            let inURL = try await http.get("/v1/health/service/greeter?token=s3cr3t")
            #expect(inURL.status == 403)
            #expect(consul.services.isEmpty)
            #expect(try await http.put("/v1/agent/service/register", greeter, headers: ["X-Consul-Token": "s3cr3t"]).status == 200)
            #expect(try await http.get("/v1/health/service/greeter", headers: ["Authorization": "Bearer s3cr3t"]).status == 200)
            #expect(try await http.put("/v1/agent/check/pass/service:greeter-7f3a").status == 403)
            #expect(try await http.get("/v1/status/leader").status == 200)
        }
    }

    @Test func theACLTokenCanChangeWhileRunning() async throws {
        try await withConsul(configure: { $0.aclToken = "old" }) { consul, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter, headers: ["X-Consul-Token": "new"]).status == 403)
            consul.setACLToken("new")
            #expect(try await http.put("/v1/agent/service/register", greeter, headers: ["X-Consul-Token": "new"]).status == 200)
            #expect(try await http.get("/v1/health/service/greeter", headers: ["X-Consul-Token": "old"]).status == 403)
            consul.setACLToken(nil)
            #expect(try await http.get("/v1/health/service/greeter").status == 200)
        }
    }

    /// consul-api.md: without a leader the agent's own endpoints answer and
    /// `?stale` reads are served; only default and `?consistent` reads need
    /// the leader.
    @Test func noLeaderRefusesDefaultAndConsistentReadsOnly() async throws {
        try await withConsul { consul, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            consul.setNoLeader(true)
            for target in ["/v1/health/service/greeter", "/v1/health/service/greeter?consistent",
                           "/v1/catalog/services", "/v1/catalog/services?consistent"] {
                let refused = try await http.get(target)
                #expect(refused.status == 500, "\(target)")
                #expect(refused.text == "No cluster leader", "\(target)")
                #expect(refused.header("X-Consul-KnownLeader") == "false", "\(target)")
            }
            let stale = try await http.get("/v1/health/service/greeter?passing&stale")
            #expect(stale.status == 200)
            #expect(try stale.entries().count == 1)
            #expect(stale.header("X-Consul-KnownLeader") == "false")
            #expect(stale.index != nil)
            let catalog = try await http.get("/v1/catalog/services?stale")
            #expect(catalog.status == 200)
            #expect(catalog.text.contains("greeter"))
            #expect(try await http.get("/v1/health/service/greeter?stale&consistent").status == 400)

            // The agent's own endpoints.
            #expect(try await http.put("/v1/agent/check/pass/service:greeter-7f3a?note=ok").status == 200)
            #expect(try await http.put("/v1/agent/check/warn/service:greeter-7f3a").status == 200)
            #expect(try await http.put("/v1/agent/check/fail/service:greeter-7f3a").status == 200)
            #expect(try await http.put("/v1/agent/check/update/service:greeter-7f3a", #"{"Status":"passing"}"#).status == 200)
            #expect(consul.check("service:greeter-7f3a")?.status == "passing")
            let services = try await http.get("/v1/agent/services")
            #expect(services.status == 200)
            #expect(services.text.contains("greeter-7f3a"))
            #expect(try await http.put("/v1/agent/service/register", #"{"ID":"g2","Name":"greeter"}"#).status == 200)
            #expect(try await http.put("/v1/agent/service/deregister/g2").status == 200)
            #expect(try await http.get("/v1/status/leader").text == #""""#)

            consul.setNoLeader(false)
            let answered = try await http.get("/v1/health/service/greeter")
            #expect(try answered.entries().count == 1)
            #expect(answered.header("X-Consul-KnownLeader") == "true")
        }
    }

    @Test func aStaleBlockingQueryWithoutALeaderIsWokenByAChange() async throws {
        try await withConsul { consul, http, _ async throws in
            consul.setNoLeader(true)
            let index = try #require(try await http.get("/v1/health/service/greeter?stale").index)
            async let blocked = http.get("/v1/health/service/greeter?stale&index=\(index)&wait=5m")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            let answer = try await blocked
            #expect(answer.status == 200)
            #expect(try answer.entries().count == 1)
        }
    }

    /// A TTL check that its node keeps passing stays passing however long
    /// the cluster has no leader: its timer is the agent's.
    @Test func aPassedTTLCheckStaysPassingWithoutALeader() async throws {
        try await withConsul { consul, http, clock async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            consul.setNoLeader(true)
            for _ in 0..<6 {
                clock.advance(by: .seconds(5))
                #expect(try await http.put("/v1/agent/check/pass/service:greeter-7f3a").status == 200)
                #expect(consul.check("service:greeter-7f3a")?.status == "passing")
            }
            // Not passed: it expires, leader or not.
            clock.advance(by: .seconds(11))
            #expect(consul.check("service:greeter-7f3a")?.status == "critical")
            #expect(consul.check("service:greeter-7f3a")?.output == "TTL expired")
        }
    }

    @Test func rateLimitedGives429UntilTurnedOff() async throws {
        try await withConsul { consul, http, _ async throws in
            consul.setRateLimited(true)
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 429)
            #expect(try await http.get("/v1/health/service/greeter").status == 429)
            #expect(consul.services.isEmpty)
            consul.setRateLimited(false)
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
        }
    }

    @Test func aResponseDelayHoldsAnswersOnTheDoublesClock() async throws {
        try await withConsul { consul, http, clock async throws in
            consul.setResponseDelay(.seconds(5))
            async let answer = http.get("/v1/status/leader")
            try await withDeadline { await clock.waitForSleeps(1) }
            #expect(consul.requests.last?.status == 0)
            clock.advance(by: .seconds(5))
            #expect(try await answer.status == 200)
        }
    }

    @Test func rewindingTheIndexWakesWatchesWithTheLowerIndex() async throws {
        try await withConsul { consul, http, _ async throws in
            for id in 1...5 {
                #expect(try await http.put("/v1/agent/service/register", #"{"ID":"g\#(id)","Name":"greeter"}"#).status == 200)
            }
            let index = try #require(try await http.get("/v1/health/service/greeter").index)
            async let blocked = http.get("/v1/health/service/greeter?index=\(index)&wait=5m")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            consul.rewindIndex(to: 2)
            let answer = try await blocked
            #expect(answer.index == 2)
            #expect(try answer.entries().count == 5)
        }
    }

    @Test func aRestartForgetsEverythingResetsTheIndexAndDropsRequestsInFlight() async throws {
        try await withConsul { consul, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            #expect(try await http.put("/v1/agent/check/pass/service:greeter-7f3a").status == 200)
            let index = try #require(try await http.get("/v1/health/service/greeter").index)
            // A fresh connection: curl silently re-sends a request whose
            // reused connection died, and the re-sent one would block on
            // the restarted agent (its index is far below ours).
            let watcher = TestHTTPClient(address: consul.address)
            async let blocked = watcher.get("/v1/health/service/greeter?index=\(index)&wait=5m")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            try await consul.restart()
            let dropped: Bool
            do { _ = try await blocked; dropped = false } catch { dropped = true }
            #expect(dropped)
            #expect(consul.services.isEmpty)
            let pass = try await http.put("/v1/agent/check/pass/service:greeter-7f3a")
            #expect(pass.status == 404)
            let after = try await http.get("/v1/health/service/greeter")
            #expect(after.text == "[]")
            #expect(try #require(after.index) < index)
        }
    }

    @Test func anUnreachableAgentRefusesConnectionsKeepsItsStateAndComesBackOnTheSamePort() async throws {
        try await withConsul { consul, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            let address = consul.address
            await consul.goUnreachable()
            await #expect(throws: (any Error).self) { try await http.get("/v1/status/leader") }
            try await consul.comeBack()
            #expect(consul.address == address)
            #expect(try await http.get("/v1/health/service/greeter").entries().count == 1)
            await #expect(throws: ConsulAgentDoubleError.self) { try await consul.comeBack() }
        }
    }

    @Test func aBlockedQueryIsDroppedWhenTheAgentBecomesUnreachable() async throws {
        try await withConsul { consul, http, _ async throws in
            let index = try #require(try await http.get("/v1/health/service/g").index)
            let watcher = TestHTTPClient(address: consul.address)
            async let blocked = watcher.get("/v1/health/service/g?index=\(index)&wait=5m")
            try await withDeadline { await consul.waitForBlockedQueries(1) }
            await consul.goUnreachable()
            let dropped: Bool
            do { _ = try await blocked; dropped = false } catch { dropped = true }
            #expect(dropped)
            #expect(consul.blockedQueryCount == 0)
            try await consul.comeBack()
        }
    }

    @Test func aStoppedDoubleCannotComeBack() async throws {
        let consul = try await ConsulAgentDouble.start(clock: TestClock())
        await consul.stop()
        await #expect(throws: ConsulAgentDoubleError.self) { try await consul.comeBack() }
    }
}
