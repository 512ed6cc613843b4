import Synchronization
import Testing
@testable import CortZeroMQ

/// The window of ``IdleSpin``, on numbers: haltpoll's rule.
@Suite struct IdleSpinTests {
    /// The window after each of `idles` (in µs), from a spin of at most 200 µs opening at 50 µs.
    private func windows(after idles: [Int64]) -> [Duration] {
        var spin = IdleSpin(maximum: .microseconds(200), growStart: .microseconds(50))
        #expect(spin.window == .zero)
        return idles.map { idle in
            spin.idled(for: .microseconds(idle))
            return spin.window
        }
    }

    private func microseconds(_ values: [Int64]) -> [Duration] { values.map { .microseconds($0) } }

    /// Idle longer than the window but within the maximum: polling longer would have caught it.
    @Test func theWindowOpensAtGrowStartAndDoublesUpToTheMaximum() {
        #expect(windows(after: [120, 120, 120, 199]) == microseconds([50, 100, 200, 200]))
    }

    @Test func somethingThatCameWithinTheWindowKeepsIt() {
        #expect(windows(after: [120, 120, 30, 100]) == microseconds([50, 100, 100, 100]))
    }

    /// Past the maximum, polling was wasted; the window opens again when answers come soon again.
    @Test func idlesPastTheMaximumHalveTheWindowAndCloseItBelowGrowStart() {
        #expect(windows(after: [150, 150, 150, 3000, 3000, 3000, 80])
            == microseconds([50, 100, 200, 100, 50, 0, 50]))
    }

    @Test func aZeroMaximumNeverOpens() {
        var spin = IdleSpin(maximum: .zero)
        for idle in [Duration.nanoseconds(1), .microseconds(10), .milliseconds(5)] {
            spin.idled(for: idle)
            #expect(spin.window == .zero)
        }
    }
}

/// A reactor's loop polls before it sleeps only while answers to requests
/// sent through it are awaited, or one just ended (`answerPolling`).
@Suite struct ZeroMQReactorAnswerPollingTests {
    /// Wakes the loop with a job `count` times, awaiting each: the loop goes
    /// idle after every one.
    private func idleRounds(_ reactor: ZeroMQReactor, _ count: Int) async {
        for _ in 0..<count { _ = await reactor.waiterCount() }
    }

    private func polls(_ reactor: ZeroMQReactor) -> Int { reactor.idlePolls.load(ordering: .relaxed) }

    @Test func theLoopPollsOnlyWhileAnswersAreAwaitedOrOneJustEnded() async throws {
        let reactor = try ZeroMQReactor.start(answerPolling: .milliseconds(200))
        defer { reactor.shutdown() }
        await idleRounds(reactor, 20)
        #expect(polls(reactor) == 0, "nothing awaited")

        reactor.requestSent()
        #expect(reactor.requestsAwaited == 1)
        await idleRounds(reactor, 20)
        // The window opens after the first short idle; the later ones poll.
        // (Not all 20: the loop may run the next round's job before it goes idle.)
        #expect(polls(reactor) >= 5)

        reactor.requestEnded()
        #expect(reactor.requestsAwaited == 0)
        let atTheEnd = polls(reactor)
        await idleRounds(reactor, 20)
        // At most the first idle after the end polls (the caller may send
        // its next call at once); then nothing is awaited and nothing ended.
        #expect(polls(reactor) - atTheEnd <= 1)
    }

    @Test func aReactorStartedWithoutAnswerPollingNeverPolls() async throws {
        let reactor = try ZeroMQReactor.start()
        defer { reactor.shutdown() }
        reactor.requestSent()
        await idleRounds(reactor, 20)
        #expect(polls(reactor) == 0)
        reactor.requestEnded()
    }

    /// Timed waits of 30 ms while an answer is awaited: each idle is within
    /// the maximum (5 s) and past the window, so the window doubles every
    /// time, past the waits' deadlines; polling stops at a deadline all the same.
    @Test func pollingNeverRunsPastAWaitersDeadline() async throws {
        let reactor = try ZeroMQReactor.start(answerPolling: .seconds(5))
        defer { reactor.shutdown() }
        let context = try ZeroMQContext()
        let socket = try ZeroMQSocket(.pull, context: context, reactor: reactor)
        reactor.requestSent()
        // On the reactor's thread, as `wait(for:)` must run.
        let longest = try await Task(executorPreference: reactor.taskExecutor) {
            var longest = Duration.zero
            for _ in 0..<20 {
                let start = ContinuousClock.now
                try await reactor.wait(for: socket, events: 0, deadline: .now + .milliseconds(30), isolation: nil)
                longest = max(longest, ContinuousClock.now - start)
            }
            return longest
        }.value
        reactor.requestEnded()
        #expect(longest < .seconds(1), "a 30 ms wait took \(longest)")
        #expect(polls(reactor) >= 10)
    }

    @Test func aMessageThatComesWhileTheLoopPollsIsReadWithoutSleeping() async throws {
        let reactor = try ZeroMQReactor.start(answerPolling: .milliseconds(200))
        defer { reactor.shutdown() }
        let context = try ZeroMQContext()
        let endpoint = uniqueInproc()
        let node = ReadingActor(reactor: reactor, perTurn: 16)
        try await node.open(context: context, bind: endpoint)
        let push = try pusher(context, to: endpoint)
        let count = 50
        let reading = try await startReading(node, until: count)
        reactor.requestSent()
        for index in 0..<count {
            // Sent just after the loop went idle, while it polls (once its window opened).
            await idleRounds(reactor, 1)
            #expect(try push.trySend(ZeroMQMessage([bytes("\(index)")])) == nil)
        }
        let report = try await reading.value
        #expect(report.frames.elementsEqual((0..<count).map { bytes("\($0)") }))
        #expect(reactor.idlePollsAnswered.load(ordering: .relaxed) >= 1)
        reactor.requestEnded()
    }
}
