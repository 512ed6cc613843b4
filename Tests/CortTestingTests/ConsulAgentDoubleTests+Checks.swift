import CortTesting
import Foundation
import Testing

/// TTL checks: pass/warn/fail/update, expiry and the reaper.
@Suite("ConsulAgentDouble: TTL checks")
struct ConsulAgentDoubleCheckTests {
    let checkID = "service:greeter-7f3a"

    @Test(arguments: [("pass", "passing"), ("warn", "warning"), ("fail", "critical")])
    func passWarnFailSetTheStatusAndTheNoteBecomesOutput(verb: String, status: String) async throws {
        try await withConsul { consul, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            #expect(try await http.put("/v1/agent/check/\(verb)/\(checkID)?note=all+good").status == 200)
            #expect(consul.check(checkID)?.status == status)
            #expect(consul.check(checkID)?.output == "all good")
        }
    }

    @Test func aTTLVerbOtherThanPUTGets405() async throws {
        try await withConsul { _, http, _ async throws in
            let answer = try await http.get("/v1/agent/check/pass/x")
            #expect(answer.status == 405)
            #expect(answer.header("Allow") == "OPTIONS,PUT")
        }
    }

    @Test func anUnknownCheckGets404AndANonTTLCheckGets500() async throws {
        try await withConsul { _, http, _ async throws in
            let unknown = try await http.put("/v1/agent/check/pass/nope")
            #expect(unknown.status == 404)
            #expect(unknown.text == #"Unknown check ID "nope". Ensure that the check ID is passed, not the check name."#)
            let web = #"{"Name":"web","Check":{"CheckID":"web-http","HTTP":"http://127.0.0.1:1/","Interval":"10s"}}"#
            #expect(try await http.put("/v1/agent/service/register", web).status == 200)
            let notTTL = try await http.put("/v1/agent/check/pass/web-http")
            #expect(notTTL.status == 500)
            #expect(notTTL.text == #"CheckID "web-http" does not have associated TTL"#)
        }
    }

    @Test func updateSetsStatusAndOutputAndRejectsABadStatus() async throws {
        try await withConsul { consul, http, _ async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            let ok = try await http.put("/v1/agent/check/update/\(checkID)", #"{"Status":"warning","Output":"slow"}"#)
            #expect(ok.status == 200)
            #expect(consul.check(checkID)?.status == "warning")
            #expect(consul.check(checkID)?.output == "slow")
            let bad = try await http.put("/v1/agent/check/update/\(checkID)", #"{"Status":"fine"}"#)
            #expect(bad.status == 400)
            #expect(bad.text == "Invalid check status: 'fine'")
            let junk = try await http.put("/v1/agent/check/update/\(checkID)", "{")
            #expect(junk.status == 400)
            #expect(junk.text.hasPrefix("Request decode failed: "))
            #expect(consul.check(checkID)?.status == "warning")
        }
    }

    @Test func aTTLThatRunsOutTurnsCriticalWithTTLExpired() async throws {
        try await withConsul { consul, http, clock async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            clock.advance(by: .seconds(9))
            #expect(consul.check(checkID)?.status == "passing")
            clock.advance(by: .seconds(1))
            #expect(consul.check(checkID)?.status == "critical")
            #expect(consul.check(checkID)?.output == "TTL expired")
        }
    }

    @Test func anExpiredTTLQuotesTheLastOutput() async throws {
        try await withConsul { consul, http, clock async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            #expect(try await http.put("/v1/agent/check/pass/\(checkID)?note=load+0.3").status == 200)
            clock.advance(by: .seconds(5))
            #expect(try await http.put("/v1/agent/check/pass/\(checkID)?note=load+0.4").status == 200)
            clock.advance(by: .seconds(9))
            #expect(consul.check(checkID)?.status == "passing")
            clock.advance(by: .seconds(1))
            #expect(consul.check(checkID)?.output == "TTL expired (last output before timeout follows): load 0.4")
        }
    }

    @Test func aTTLStartsAtRegistrationEvenWhenNotPassing() async throws {
        try await withConsul { consul, http, clock async throws in
            let body = #"{"ID":"g","Name":"g","Check":{"TTL":"10s"}}"#
            #expect(try await http.put("/v1/agent/service/register", body).status == 200)
            #expect(consul.check("service:g")?.output == "")
            clock.advance(by: .seconds(10))
            #expect(consul.check("service:g")?.output == "TTL expired")
        }
    }

    @Test func deregisterCriticalServiceAfterIsRaisedToOneMinute() async throws {
        try await withConsul { consul, http, _ async throws in
            let body = #"{"ID":"g","Name":"g","Check":{"TTL":"10s","DeregisterCriticalServiceAfter":"5s"}}"#
            #expect(try await http.put("/v1/agent/service/register", body).status == 200)
            #expect(consul.check("service:g")?.deregisterCriticalServiceAfter == .seconds(60))
        }
    }

    @Test func theReaperRemovesAServiceOnItsFirstBeatAfterTheCriticalTimePassed() async throws {
        try await withConsul { consul, http, clock async throws in
            // TTL runs out at 10s; critical for > 60s from then; beats at 30, 60, 90.
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            clock.advance(by: .seconds(89))
            #expect(consul.services.count == 1)
            clock.advance(by: .seconds(1))
            #expect(consul.services.isEmpty)
            #expect(consul.checks.isEmpty)
        }
    }

    @Test func theReaperCountsFromTheFirstTurnToCriticalNotFromRegistration() async throws {
        try await withConsul { consul, http, clock async throws in
            // Critical from registration, but the TTL only runs out at 100s:
            // reaped at the first beat after 160s, which is 180s.
            let body = #"{"ID":"g","Name":"g","Check":{"TTL":"100s","DeregisterCriticalServiceAfter":"1m"}}"#
            #expect(try await http.put("/v1/agent/service/register", body).status == 200)
            clock.advance(by: .seconds(179))
            #expect(consul.services.map(\.id) == ["g"])
            clock.advance(by: .seconds(1))
            #expect(consul.services.isEmpty)
        }
    }

    @Test func aPassBeforeTheReaperKeepsTheService() async throws {
        try await withConsul { consul, http, clock async throws in
            #expect(try await http.put("/v1/agent/service/register", greeter).status == 200)
            clock.advance(by: .seconds(80))
            #expect(try await http.put("/v1/agent/check/pass/\(checkID)").status == 200)
            clock.advance(by: .seconds(5))
            #expect(consul.services.count == 1)
            #expect(consul.check(checkID)?.status == "passing")
        }
    }
}
