import Synchronization
import Testing
@testable import CortZeroMQ

/// A reactor that keeps the global executor's jobs it resumes
/// (`resumesGlobalJobs`, `keepingGlobalJobs`).
@Suite struct ZeroMQReactorGlobalJobsTests {
    /// Tasks with no executor of their own, each suspended until the test
    /// resumes it; each then says whether it went on on the reactor's thread.
    private final class Waiters: Sendable {
        private let waiting = Mutex<[Int: UnsafeContinuation<Void, Never>]>([:])
        private let (registered, registering) = AsyncStream<Int>.makeStream()

        /// Starts `count` tasks; returns once all of them wait.
        func start(_ count: Int, on reactor: ZeroMQReactor) async -> [Task<Bool, Never>] {
            let tasks = (0..<count).map { index in
                Task.detached { () -> Bool in
                    await withUnsafeContinuation { continuation in
                        self.waiting.withLock { $0[index] = continuation }
                        self.registering.yield(index)
                    }
                    return reactor.isOnReactorThread
                }
            }
            var seen = 0
            for await _ in registered {
                seen += 1
                if seen == count { break }
            }
            return tasks
        }

        func resume(_ index: Int) {
            waiting.withLock { $0.removeValue(forKey: index) }?.resume()
        }
    }

    /// Resumed inside `keepingGlobalJobs` on the loop, a task goes on on the
    /// loop's thread; once the loop has been busy past
    /// `keepsGlobalJobsWhileBusyFor`, one resumed the same way goes to the
    /// global executor; resumed off the loop, one goes there too.
    ///
    /// The bound is wall-clock time: a loop thread that waits for a CPU
    /// (beside CPU hogs) for a millisecond before it resumes the first task
    /// keeps none, so the first is looked for over a few rounds.
    @Test func aTaskResumedByTheLoopGoesOnThereUntilTheLoopHasBeenBusyTooLong() async throws {
        let reactor = try ZeroMQReactor.start(name: "keep-jobs", resumesGlobalJobs: true)
        defer { reactor.shutdown() }
        #expect(ZeroMQReactor.globalJobsHookInstalled)
        var keptOnce = false
        for _ in 0..<20 where !keptOnce {
            let waiters = Waiters()
            let tasks = await waiters.start(3, on: reactor)
            reactor.execute {
                reactor.keepingGlobalJobs { waiters.resume(0) }
                // Busy past the bound, without going back to poll.
                let start = ContinuousClock.now
                while ContinuousClock.now - start < ZeroMQReactor.keepsGlobalJobsWhileBusyFor * 3 {}
                reactor.keepingGlobalJobs { waiters.resume(1) }
            }
            keptOnce = await tasks[0].value
            #expect(await tasks[1].value == false, "resumed after the loop was busy 3 ms: to the global executor")
            reactor.keepingGlobalJobs { waiters.resume(2) }
            #expect(await tasks[2].value == false, "resumed off the loop's thread: to the global executor")
        }
        #expect(keptOnce, "resumed by the loop while it was not busy long: kept")
    }

    /// A reactor started without `resumesGlobalJobs` keeps nothing.
    @Test func aReactorNotAskedToKeepsNothing() async throws {
        let reactor = try ZeroMQReactor.start(name: "keep-none")
        defer { reactor.shutdown() }
        let waiters = Waiters()
        let tasks = await waiters.start(1, on: reactor)
        reactor.execute { reactor.keepingGlobalJobs { waiters.resume(0) } }
        #expect(await tasks[0].value == false)
    }

    /// A kept task that computes past `handOffAfter` keeps the old thread
    /// while the loop moves to a new one: a job queued while it computes runs.
    @Test func aKeptTaskThatComputesLongHandsTheLoopOver() async throws {
        let reactor = try ZeroMQReactor.start(name: "keep-long", resumesGlobalJobs: true)
        defer { reactor.shutdown() }
        let handOffsBefore = reactor.handOffs.load(ordering: .relaxed)
        let gate = Mutex(false)
        let (spinning, spinningNow) = AsyncStream<Bool>.makeStream()
        let computing = Task.detached { () async -> Bool in
            await withUnsafeContinuation { continuation in
                reactor.execute { reactor.keepingGlobalJobs { continuation.resume() } }
            }
            let onReactor = reactor.isOnReactorThread
            spinningNow.yield(onReactor)
            // The gate opens once the test saw the loop run a job meanwhile (at most 10 s).
            let start = ContinuousClock.now
            while !gate.withLock({ $0 }) && ContinuousClock.now - start < .seconds(10) {}
            return onReactor
        }
        var iterator = spinning.makeAsyncIterator()
        let kept = await iterator.next()
        print("FIGURE keptTaskHandOff.kept=\(kept == true)")
        // Not kept only if the loop waited a millisecond for a CPU first (see above).
        guard kept == true else {
            gate.withLock { $0 = true }
            _ = await computing.value
            return
        }
        // Runs only on a thread other than the one computing: the loop's new one.
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            reactor.execute { continuation.resume() }
        }
        gate.withLock { $0 = true }
        #expect(await computing.value)
        #expect(reactor.handOffs.load(ordering: .relaxed) > handOffsBefore)
    }
}
