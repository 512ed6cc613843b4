import CortZeroMQ
import Testing
@testable import Cort

/// How long the I/O threads waited for a CPU between two ticks, from what
/// the scheduler said of them at each (the arithmetic alone).
@Suite struct IOThreadWaitsTests {
    typealias Sample = ZeroMQContext.ThreadSample

    func at(_ milliseconds: Int) -> Duration { .milliseconds(milliseconds) }

    func sample(runnable: Bool, ran: Int, waited: Int, scheduled: Int64) -> Sample {
        Sample(isRunnable: runnable, ran: .milliseconds(ran), waited: .milliseconds(waited), timesScheduled: scheduled)
    }

    @Test func waitsThatEndedAreCountedOnceAndAWaitGoingOnAtOnce() {
        var waits = IOThreadWaits()
        #expect(waits.waited([sample(runnable: false, ran: 10, waited: 5, scheduled: 100)], at: at(0), minimum: at(2)) == .zero,
                "the first reading is the baseline")
        // It ran once and slept again, after a wait of 3 ms.
        #expect(waits.waited([sample(runnable: false, ran: 12, waited: 8, scheduled: 101)], at: at(100), minimum: at(2)) == at(3))
        // Runnable, and not on a CPU since: waiting, counted before the wait ends.
        #expect(waits.waited([sample(runnable: true, ran: 12, waited: 8, scheduled: 101)], at: at(200), minimum: at(2)) == at(100))
        #expect(waits.waited([sample(runnable: true, ran: 12, waited: 8, scheduled: 101)], at: at(300), minimum: at(2)) == at(100))
        // The wait ended (230 ms in all): only what was not counted yet.
        #expect(waits.waited([sample(runnable: false, ran: 13, waited: 238, scheduled: 102)], at: at(400), minimum: at(2)) == at(30))
        // A thread that ran all along is not waiting, though runnable.
        #expect(waits.waited([sample(runnable: true, ran: 113, waited: 238, scheduled: 102)], at: at(500), minimum: at(2)) == .zero)
    }

    /// Many short waits (a busy thread beside CPU hogs) delay each frame by
    /// one of them, not by their sum: they do not count; long ones do.
    @Test func onlyWaitsLongOneByOneCount() {
        var waits = IOThreadWaits()
        _ = waits.waited([sample(runnable: false, ran: 0, waited: 0, scheduled: 0)], at: at(0), minimum: at(25))
        // 200 waits of 1 ms each in 1 s.
        #expect(waits.waited([sample(runnable: false, ran: 300, waited: 200, scheduled: 200)], at: at(1_000), minimum: at(25)) == .zero)
        // Three waits of 90 ms each.
        #expect(waits.waited([sample(runnable: false, ran: 301, waited: 470, scheduled: 203)], at: at(2_000), minimum: at(25)) == at(270))
    }

    @Test func theLongestWaitOfSeveralThreadsCounts() {
        var waits = IOThreadWaits()
        _ = waits.waited([sample(runnable: false, ran: 0, waited: 0, scheduled: 1),
                          sample(runnable: false, ran: 0, waited: 0, scheduled: 1)], at: at(0), minimum: at(2))
        #expect(waits.waited([sample(runnable: false, ran: 1, waited: 20, scheduled: 2),
                              sample(runnable: false, ran: 1, waited: 50, scheduled: 2)], at: at(100), minimum: at(2)) == at(50))
        // Threads that changed (another count): a new baseline.
        #expect(waits.waited([sample(runnable: true, ran: 1, waited: 90, scheduled: 2)], at: at(200), minimum: at(2)) == .zero)
        // A clock that did not move: nothing, and a wait going on is still
        // known as counted when it ends.
        #expect(waits.waited([sample(runnable: true, ran: 1, waited: 90, scheduled: 2)], at: at(300), minimum: at(2)) == at(100))
        #expect(waits.waited([sample(runnable: true, ran: 1, waited: 90, scheduled: 2)], at: at(300), minimum: at(2)) == .zero)
        #expect(waits.waited([sample(runnable: false, ran: 2, waited: 250, scheduled: 3)], at: at(400), minimum: at(2)) == at(60))
    }
}
