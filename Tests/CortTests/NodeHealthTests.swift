import Testing
@testable import Cort

/// The heartbeat state machine alone, on virtual time: each test feeds it
/// events at chosen instants and checks what it answers.
@Suite struct NodeHealthTests {
    let configuration = HeartbeatConfiguration(interval: .milliseconds(100), liveness: 3)

    func at(_ milliseconds: Int) -> Duration { .milliseconds(milliseconds) }

    @Test func aNewNodeIsPingedAtOnceAndTakesNoCallsUntilItAnswers() {
        var health = NodeHealth(now: at(0))
        #expect(health.state == .connecting)
        #expect(!health.takesCalls)
        let actions = health.tick(at: at(0), configuration: configuration)
        #expect(actions.ping)
        #expect(actions.change == nil)
        health.pinged(at: at(0), configuration: configuration)
        #expect(health.nextWakeup(configuration: configuration) == at(100))
        #expect(health.heard(at: at(2), configuration: configuration) == .connected)
        #expect(health.state == .live)
        #expect(health.takesCalls)
    }

    @Test func silenceMakesANodeSuspectAfterOneIntervalAndDeadAfterLiveness() {
        var health = NodeHealth(now: at(0))
        _ = health.heard(at: at(0), configuration: configuration)
        // Heard within the interval: no ping, no change.
        #expect(health.tick(at: at(99), configuration: configuration) == .init())
        let suspect = health.tick(at: at(100), configuration: configuration)
        #expect(health.state == .suspect)
        #expect(suspect.ping)
        #expect(suspect.change == nil)
        #expect(health.takesCalls, "a suspect node is a last resort, not out")
        health.pinged(at: at(100), configuration: configuration)
        #expect(health.tick(at: at(299), configuration: configuration).change == nil)
        let dead = health.tick(at: at(300), configuration: configuration)
        #expect(health.state == .dead)
        #expect(dead.change == .died(reason: "it was silent for 0.3 seconds"))
        #expect(dead.reconnect, "the connection is renewed so queued requests never reach a restarted node")
        #expect(!health.takesCalls)
    }

    @Test func aPauseOfTheCallerIsNotTheNodesSilence() {
        var health = NodeHealth(now: at(0))
        _ = health.heard(at: at(0), configuration: configuration)
        // Due at 100 (a ping), run at 1,100: a pause of a second, ten intervals.
        health.heartbeatRanLate(due: at(100), at: at(1_100), configuration: configuration)
        let late = health.tick(at: at(1_100), configuration: configuration)
        #expect(late.change == nil, "judged as when it was due: suspect, pinged, not dead")
        #expect(late.ping)
        #expect(health.state == .suspect)
        health.pinged(at: at(1_100), configuration: configuration)
        // Silent for its liveness with the pause cut out (heard at 0, then
        // 300 ms of pinging): dead, as late as the pause.
        #expect(health.tick(at: at(1_299), configuration: configuration).change == nil)
        #expect(health.tick(at: at(1_300), configuration: configuration).change == .died(reason: "it was silent for 0.3 seconds"))

        // The tick was due for another node: this one, heard at 50, had
        // nothing due before 150, so only 150 to 400 is cut out.
        var later = NodeHealth(now: at(0))
        _ = later.heard(at: at(50), configuration: configuration)
        later.heartbeatRanLate(due: at(100), at: at(400), configuration: configuration)
        #expect(later.lastHeard == at(300))
        #expect(later.tick(at: at(400), configuration: configuration).ping)
        later.pinged(at: at(400), configuration: configuration)
        // Run on time, or before anything of its own was due: nothing is cut out.
        later.heartbeatRanLate(due: at(400), at: at(400), configuration: configuration)
        later.heartbeatRanLate(due: at(390), at: at(400), configuration: configuration)
        #expect(later.lastHeard == at(300))
        // A dead node stays dead; its renewal of the connection moves as late.
        health.heartbeatRanLate(due: at(1_400), at: at(1_800), configuration: configuration)
        #expect(health.tick(at: at(1_800), configuration: configuration).change == nil)
        #expect(health.state == .dead)
    }

    /// Time this caller's I/O thread waited for a CPU is cut out of a
    /// node's silence: frames from it may have waited in the kernel that
    /// long, and pings to it in libzmq's queue.
    @Test func theCallersIOThreadWaitingForACPUIsNotTheNodesSilence() {
        var health = NodeHealth(now: at(0))
        _ = health.heard(at: at(0), configuration: configuration)
        _ = health.tick(at: at(100), configuration: configuration)
        health.pinged(at: at(100), configuration: configuration)
        #expect(health.state == .suspect)
        // 300 ms of silence, 250 of them this caller's I/O thread waiting:
        // 50 ms of its own, not dead; worth saying once.
        let early = health.ioThreadWaited(.milliseconds(100), at: at(200), configuration: configuration)
        #expect(!early, "200 ms of silence would not have killed it")
        let spared = health.ioThreadWaited(.milliseconds(150), at: at(300), configuration: configuration)
        #expect(spared, "300 ms would have")
        #expect(health.lastHeard == at(250))
        #expect(health.forgivenForIOThread == .milliseconds(250))
        #expect(health.tick(at: at(300), configuration: configuration).change == nil)
        #expect(health.state == .suspect)
        // Then silent for its liveness with the wait cut out: dead, as much later.
        #expect(health.tick(at: at(549), configuration: configuration).change == nil)
        #expect(health.tick(at: at(550), configuration: configuration).change == .died(reason: "it was silent for 0.3 seconds"))
        // Never heard later than now, however long the wait; nothing without one.
        var other = NodeHealth(now: at(0))
        _ = other.heard(at: at(100), configuration: configuration)
        _ = other.ioThreadWaited(.seconds(5), at: at(200), configuration: configuration)
        #expect(other.lastHeard == at(200))
        #expect(other.forgivenForIOThread == .milliseconds(100))
        _ = other.ioThreadWaited(.zero, at: at(400), configuration: configuration)
        #expect(other.lastHeard == at(200))
        _ = other.heard(at: at(450), configuration: configuration)
        #expect(other.forgivenForIOThread == .zero, "a new silence starts with nothing cut out")
        // A dead node's renewal of its connection moves as late.
        let again = health.ioThreadWaited(.milliseconds(100), at: at(700), configuration: configuration)
        #expect(!again, "said once a silence")
        #expect(health.tick(at: at(849), configuration: configuration).change == nil)
        #expect(health.state == .dead)
        #expect(health.tick(at: at(949), configuration: configuration).reconnect == false)
        #expect(health.tick(at: at(950), configuration: configuration).reconnect)
    }

    @Test func anyFrameRevivesASuspectOrDeadNode() {
        var health = NodeHealth(now: at(0))
        _ = health.heard(at: at(0), configuration: configuration)
        _ = health.tick(at: at(150), configuration: configuration)
        #expect(health.state == .suspect)
        #expect(health.heard(at: at(160), configuration: configuration) == nil, "suspect still took calls")
        #expect(health.state == .live)
        _ = health.tick(at: at(260), configuration: configuration)
        _ = health.tick(at: at(460), configuration: configuration)
        #expect(health.state == .dead)
        #expect(health.heard(at: at(470), configuration: configuration) == .revived)
        #expect(health.state == .live)
    }

    @Test func aDeadNodeIsPingedEveryIntervalAndItsConnectionRenewedEveryLiveness() {
        var health = NodeHealth(now: at(0))
        _ = health.heard(at: at(0), configuration: configuration)
        _ = health.tick(at: at(100), configuration: configuration)
        health.pinged(at: at(100), configuration: configuration)
        _ = health.tick(at: at(300), configuration: configuration)
        health.pinged(at: at(300), configuration: configuration)
        #expect(health.state == .dead)
        let quiet = health.tick(at: at(350), configuration: configuration)
        #expect(!quiet.ping && !quiet.reconnect)
        let ping = health.tick(at: at(400), configuration: configuration)
        #expect(ping.ping && !ping.reconnect && ping.change == nil)
        health.pinged(at: at(400), configuration: configuration)
        let renew = health.tick(at: at(600), configuration: configuration)
        #expect(renew.reconnect && renew.ping)
        #expect(health.nextWakeup(configuration: configuration) <= at(900))
    }

    @Test func anUnroutableSendKillsALiveNodeAtOnceButNotAConnectingOne() {
        var connecting = NodeHealth(now: at(0))
        #expect(connecting.unroutable(at: at(1), configuration: configuration) == nil)
        #expect(connecting.state == .connecting)

        var live = NodeHealth(now: at(0))
        _ = live.heard(at: at(0), configuration: configuration)
        #expect(live.unroutable(at: at(5), configuration: configuration) == .died(reason: "its connection is gone"))
        #expect(live.state == .dead)
    }

    @Test func aPongFromANewIncarnationMeansTheOldCallsAreLost() {
        var health = NodeHealth(now: at(0))
        #expect(health.pong(freeSlots: 4, incarnation: 7, at: at(1), configuration: configuration) == [.connected])
        #expect(health.freeSlots == 4)
        #expect(health.pong(freeSlots: 4, incarnation: 7, at: at(50), configuration: configuration) == [])
        let restarted = health.pong(freeSlots: 8, incarnation: 9, at: at(60), configuration: configuration)
        #expect(restarted == [.died(reason: "it restarted (a new incarnation answered)")])
        #expect(health.state == .live, "the new incarnation takes calls")
        #expect(health.incarnation == 9)
    }

    @Test func freeSlotsFollowTheCallsSentAndEnded() {
        var health = NodeHealth(now: at(0))
        _ = health.pong(freeSlots: 1, incarnation: 1, at: at(0), configuration: configuration)
        health.tookCall()
        #expect(health.freeSlots == 0)
        health.tookCall()
        #expect(health.freeSlots == 0, "never below zero")
        health.releasedCall()
        #expect(health.freeSlots == 1)
        health.full()
        #expect(health.freeSlots == 0)
    }

    @Test func configurationKeepsItsBounds() {
        let tiny = HeartbeatConfiguration(interval: .zero, liveness: 0)
        #expect(tiny.interval == .milliseconds(1))
        #expect(tiny.liveness == 2)
        #expect(configuration.deadAfter == .milliseconds(300))
    }
}
