import CortTesting
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@testable import Cort

// MARK: - Helpers (fileprivate: other test files may have their own)

/// A latch: `wait()` returns once `open()` was called; cancellation ends the wait.
private final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until opened or cancelled; true when opened.
    @discardableResult
    func wait() async -> Bool {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.isOpen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
        return state.withLock { $0.isOpen }
    }
}

/// Counts events; `wait(for:)` returns once `count` reached a number.
private final class Counter: Sendable {
    private struct State {
        var count = 0
        var waiters: [(target: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Mutex(State())

    var value: Int { state.withLock { $0.count } }

    func increment() {
        let ready = state.withLock { state in
            state.count += 1
            let count = state.count
            let ready = state.waiters.filter { $0.target <= count }
            state.waiters.removeAll { $0.target <= count }
            return ready
        }
        for waiter in ready { waiter.continuation.resume() }
    }

    /// Waits (not cancellable: always used under `withTimeLimit`, which fails the test).
    func wait(for target: Int) async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                if state.count >= target { return true }
                state.waiters.append((target, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}

private struct TimeLimitExceeded: Error {}

/// Runs `body`, failing with `TimeLimitExceeded` if it takes longer than
/// `limit` (a hang guard, not a timing assertion). Returns on time even when
/// `body` is stuck somewhere cancellation does not reach: then `body` is
/// cancelled and left behind, and the test fails.
///
/// 60 s by default: in full runs on 2 cores, while some 95 suites start at
/// once, the busiest of these tests took 13 to 22 s (and twice hit a limit
/// of 20 s); a hang still fails.
private func withTimeLimit<T: Sendable>(
    _ limit: Duration = .seconds(60),
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let answered = Locked(false)
    let tasks = Locked<(work: Task<Void, Never>?, timer: Task<Void, Never>?)>((nil, nil))
    return try await withCheckedThrowingContinuation { continuation in
        let first: @Sendable () -> Bool = { answered.withLock { done in defer { done = true }; return !done } }
        let work = Task {
            let result: Result<T, any Error>
            do { result = .success(try await body()) } catch { result = .failure(error) }
            if first() {
                tasks.withLock { $0.timer }?.cancel()
                continuation.resume(with: result)
            }
        }
        let timer = Task {
            do { try await Task.sleep(for: limit) } catch { return }
            if first() {
                work.cancel()
                continuation.resume(throwing: TimeLimitExceeded())
            }
        }
        tasks.withLock { $0 = (work, timer) }
        if answered.withLock({ $0 }) { timer.cancel() }
    }
}

/// A value behind a lock that closures can share.
private final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

/// A thread-safe list, to record what ran and in which order.
private final class Recorder<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    func append(_ item: Element) { items.withLock { $0.append(item) } }
    var all: [Element] { items.withLock { $0 } }
}

private enum Outcome: Equatable, Sendable {
    case success(Int)
    case failure(WorkerPoolError.Code?)
}

private func poolError(_ error: any Error) -> WorkerPoolError.Code? {
    (error as? WorkerPoolError)?.code
}

/// Makes a pool whose worker `i` is `i`, runs it during `body`, then shuts it
/// down and waits for it to stop (`WorkerPool.withPool`, under a time limit).
private func withPool<T: Sendable>(
    workers: Int,
    queueCapacity: Int,
    clock: any Clock<Duration> = ContinuousClock(),
    _ body: @escaping @Sendable (WorkerPool<Int>) async throws -> T
) async throws -> T {
    try await withTimeLimit {
        try await WorkerPool.withPool(
            configuration: .init(workers: workers, queueCapacity: queueCapacity), clock: clock
        ) { index in
            index
        } body: { pool in
            try await body(pool)
        }
    }
}

// MARK: - Tests

@Suite("WorkerPool")
struct WorkerPoolTests {
    @Test("a configuration without workers or queue is refused with a clear error")
    func invalidConfiguration() throws {
        for (workers, capacity) in [(0, 1), (1, 0), (-1, 4)] {
            let error = #expect(throws: WorkerPoolError.self) {
                _ = try WorkerPool<Int>(configuration: .init(workers: workers, queueCapacity: capacity)) { $0 }
            }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.message.isEmpty == false)
        }
    }

    @Test("at most `workers` jobs run at once, each on its own worker")
    func concurrencyBound() async throws {
        let running = Locked((now: 0, most: 0, workers: Set<Int>()))
        let started = Counter()
        let gate = Gate()
        let results = try await withPool(workers: 3, queueCapacity: 100) { pool in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for job in 0..<60 {
                    group.addTask {
                        try await pool.submit { worker in
                            let distinct = running.withLock { state in
                                state.now += 1
                                state.most = max(state.most, state.now)
                                return state.workers.insert(worker).inserted
                            }
                            #expect(distinct, "two running jobs share worker \(worker)")
                            started.increment()
                            await gate.wait()
                            running.withLock { state in
                                state.now -= 1
                                state.workers.remove(worker)
                            }
                            return job
                        }
                    }
                }
                // Three jobs run and hold their workers; the others queue.
                await started.wait(for: 3)
                #expect(pool.load.running == 3)
                #expect(started.value == 3)
                gate.open()
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(results.sorted() == Array(0..<60))
        #expect(running.withLock { $0.most } == 3)
    }

    @Test("a full queue answers overloaded at once; the refused work never runs")
    func queueBoundAndOverloaded() async throws {
        let ran = Counter()
        let gate = Gate()
        try await withPool(workers: 1, queueCapacity: 2) { pool in
            let started = Counter()
            let blocker = Task {
                try await pool.submit { _ in
                    started.increment()
                    await gate.wait()
                    return -1
                }
            }
            await started.wait(for: 1)
            // Four try at once for two places: exactly two are turned away.
            let outcomes = Recorder<Outcome>()
            let answered = Counter()
            var tasks: [Task<Void, Never>] = []
            for job in 0..<4 {
                tasks.append(Task {
                    do {
                        let value = try await pool.trySubmit { _ in
                            ran.increment()
                            return job
                        }
                        outcomes.append(.success(value))
                    } catch {
                        outcomes.append(.failure(poolError(error)))
                    }
                    answered.increment()
                })
            }
            await answered.wait(for: 2)
            #expect(outcomes.all.count == 2)
            #expect(outcomes.all.allSatisfy { $0 == .failure(.overloaded) })
            #expect(pool.load.queued == 2)
            #expect(pool.load.running == 1)
            #expect(pool.load.freeSlots == 0)
            gate.open()
            for task in tasks { await task.value }
            let blocked = try await blocker.value
            #expect(blocked == -1)
            let successes = outcomes.all.filter { if case .success = $0 { true } else { false } }
            #expect(successes.count == 2)
            #expect(outcomes.all.filter { $0 == .failure(.overloaded) }.count == 2)
        }
        #expect(ran.value == 2)
    }

    @Test("submit waits for room and enters the queue in the order it waited")
    func backpressureOrdering() async throws {
        let order = Recorder<Int>()
        let gate = Gate()
        try await withPool(workers: 1, queueCapacity: 1) { pool in
            let started = Counter()
            var tasks: [Task<Int, any Error>] = []
            tasks.append(Task.immediate {
                try await pool.submit { _ in
                    started.increment()
                    await gate.wait()
                    order.append(0)
                    return 0
                }
            })
            await started.wait(for: 1)
            // Task.immediate runs each submit up to its suspension, so they
            // are admitted in this order: 1 takes the queue, 2...5 wait.
            for job in 1...5 {
                tasks.append(Task.immediate {
                    try await pool.submit { _ in
                        order.append(job)
                        return job
                    }
                })
            }
            #expect(pool.load.queued == 1)
            #expect(pool.load.waiting == 4)
            gate.open()
            for (index, task) in tasks.enumerated() {
                let value = try await task.value
                #expect(value == index)
            }
            #expect(pool.load.waiting == 0)
        }
        #expect(order.all == [0, 1, 2, 3, 4, 5])
    }

    @Test("cancelling a queued or waiting submitter skips its work and throws CancellationError")
    func cancellationWhileQueued() async throws {
        let ran = Recorder<String>()
        let gate = Gate()
        try await withPool(workers: 1, queueCapacity: 1) { pool in
            let started = Counter()
            let blocker = Task.immediate {
                try await pool.submit { _ in
                    started.increment()
                    await gate.wait()
                }
            }
            await started.wait(for: 1)
            let queued = Task.immediate { try await pool.submit { _ in ran.append("queued") } }
            let waiting = Task.immediate { try await pool.submit { _ in ran.append("waiting") } }
            #expect(pool.load.waiting == 1)

            waiting.cancel()
            // The cancellation handler runs in cancel(): the place is given up at once.
            #expect(pool.load.waiting == 0)
            queued.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            await #expect(throws: CancellationError.self) { try await queued.value }

            gate.open()
            try await blocker.value
            // One worker, first in first out: once this ran, the cancelled ones were passed.
            try await pool.submit { _ in ran.append("after") }
            #expect(pool.load.queued == 0)
        }
        #expect(ran.all == ["after"])
    }

    @Test("cancelling a submitter whose work runs cancels the work's task; the worker goes on")
    func cancellationWhileRunning() async throws {
        let sawCancellation = Counter()
        let started = Counter()
        try await withPool(workers: 1, queueCapacity: 4) { pool in
            let running = Task {
                try await pool.submit { _ in
                    started.increment()
                    await Gate().wait()  // only cancellation ends this
                    if Task.isCancelled { sawCancellation.increment() }
                    return "finished"
                }
            }
            await started.wait(for: 1)
            running.cancel()
            await #expect(throws: CancellationError.self) { try await running.value }
            await sawCancellation.wait(for: 1)

            // The same worker serves the next jobs in a fresh, uncancelled task.
            for job in 0..<3 {
                let (value, cancelled) = try await pool.submit { worker in (worker, Task.isCancelled) }
                #expect(value == 0, "job \(job) ran on worker \(value)")
                #expect(!cancelled)
            }
        }
        #expect(sawCancellation.value == 1)
    }

    @Test("a submitter cancelled before it submits gets CancellationError and its work never runs")
    func cancelledBeforeSubmit() async throws {
        let ran = Counter()
        try await withPool(workers: 1, queueCapacity: 1) { pool in
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await pool.submit { _ in ran.increment() }
            }
            await #expect(throws: CancellationError.self) { try await task.value }
            #expect(pool.load.queued == 0)
        }
        #expect(ran.value == 0)
    }

    @Test("a timeout that passes while queued fails the submit and the work never starts")
    func timeoutWhileQueued() async throws {
        let clock = TestClock()
        let ran = Recorder<String>()
        let gate = Gate()
        try await withPool(workers: 1, queueCapacity: 2, clock: clock) { pool in
            let started = Counter()
            let blocker = Task.immediate {
                try await pool.submit { _ in
                    started.increment()
                    await gate.wait()
                }
            }
            await started.wait(for: 1)
            let late = Task.immediate { try await pool.trySubmit(timeout: .seconds(5)) { _ in ran.append("late") } }
            await clock.waitForSleeps(1)
            clock.advance(by: .seconds(4))
            #expect(pool.load.queued == 1)
            clock.advance(by: .seconds(1))
            let error = await #expect(throws: WorkerPoolError.self) { try await late.value }
            #expect(error?.code == .deadlineExceeded)

            gate.open()
            try await blocker.value
            try await pool.submit { _ in ran.append("after") }
        }
        #expect(ran.all == ["after"])
    }

    @Test("a timeout that passes while waiting for room fails the submit; the work never runs")
    func timeoutWhileWaitingForRoom() async throws {
        let clock = TestClock()
        let ran = Recorder<String>()
        let gate = Gate()
        try await withPool(workers: 1, queueCapacity: 1, clock: clock) { pool in
            let started = Counter()
            let blocker = Task.immediate {
                try await pool.submit { _ in
                    started.increment()
                    await gate.wait()
                }
            }
            await started.wait(for: 1)
            let queued = Task.immediate { try await pool.submit { _ in ran.append("queued") } }
            let waiting = Task.immediate { try await pool.submit(timeout: .seconds(1)) { _ in ran.append("waiting") } }
            #expect(pool.load.waiting == 1)
            await clock.waitForSleeps(1)
            clock.advance(by: .seconds(1))
            let error = await #expect(throws: WorkerPoolError.self) { try await waiting.value }
            #expect(error?.code == .deadlineExceeded)
            #expect(pool.load.waiting == 0)

            gate.open()
            try await blocker.value
            try await queued.value
        }
        #expect(ran.all == ["queued"])
    }

    @Test("a timeout that passes while the work runs cancels it and fails the submit")
    func timeoutWhileRunning() async throws {
        let clock = TestClock()
        let sawCancellation = Counter()
        try await withPool(workers: 1, queueCapacity: 1, clock: clock) { pool in
            let started = Counter()
            let slow = Task.immediate {
                try await pool.submit(timeout: .milliseconds(250)) { _ in
                    started.increment()
                    await Gate().wait()
                    if Task.isCancelled { sawCancellation.increment() }
                }
            }
            await started.wait(for: 1)
            await clock.waitForSleeps(1)
            clock.advance(by: .milliseconds(250))
            let error = await #expect(throws: WorkerPoolError.self) { try await slow.value }
            #expect(error?.code == .deadlineExceeded)
            #expect(error?.message.contains("while the work ran") == true)
            await sawCancellation.wait(for: 1)
            // A job that finishes in time is not touched by its timer.
            let inTime = try await pool.submit(timeout: .seconds(5)) { worker in worker + 1 }
            #expect(inTime == 1)
        }
        #expect(sawCancellation.value == 1)
    }

    @Test("an earlier deadline submitted later expires first; the later one keeps waiting")
    func deadlinesOutOfOrder() async throws {
        let clock = TestClock()
        let gate = Gate()
        try await withPool(workers: 1, queueCapacity: 4, clock: clock) { pool in
            let started = Counter()
            let blocker = Task.immediate {
                try await pool.submit { _ in
                    started.increment()
                    await gate.wait()
                }
            }
            await started.wait(for: 1)
            let answered = Counter()
            let long = Task.immediate {
                defer { answered.increment() }
                try await pool.submit(timeout: .seconds(10)) { _ in }
            }
            await clock.waitForSleeps(1)  // the timer sleeps until 10 s
            let short = Task.immediate {
                defer { answered.increment() }
                try await pool.submit(timeout: .seconds(2)) { _ in }
            }
            await clock.waitForSleeps(2)  // woken, it sleeps until 2 s
            clock.advance(by: .seconds(2))
            let shortError = await #expect(throws: WorkerPoolError.self) { try await short.value }
            #expect(shortError?.code == .deadlineExceeded)
            #expect(answered.value == 1)
            #expect(pool.load.queued == 2)

            await clock.waitForSleeps(3)  // and then until 10 s again
            clock.advance(by: .seconds(8))
            let longError = await #expect(throws: WorkerPoolError.self) { try await long.value }
            #expect(longError?.code == .deadlineExceeded)
            gate.open()
            try await blocker.value
        }
    }

    @Test("a timeout on the real clock ends a submit whose work ignores it")
    func timeoutOnContinuousClock() async throws {
        let release = Counter()
        let started = Counter()
        try await withPool(workers: 1, queueCapacity: 1) { pool in
            // The deadline must pass while the work runs. On a loaded machine
            // the idle worker may take the job only after a short deadline
            // passed: then the job is dropped unstarted (tested on virtual
            // time above) and the next try doubles the timeout.
            var timeout = Duration.milliseconds(500)
            var endedWhileRunning = false
            while !endedWhileRunning, timeout <= .seconds(4) {
                let error = await #expect(throws: WorkerPoolError.self) {
                    try await pool.submit(timeout: timeout) { _ in
                        started.increment()
                        await release.wait(for: 1)  // ignores cancellation
                    }
                }
                #expect(error?.code == .deadlineExceeded)
                endedWhileRunning = error?.message.contains("while the work ran") == true
                timeout *= 2
            }
            #expect(endedWhileRunning, "no try found its work running before a deadline of up to 4 s")
            guard endedWhileRunning else { return }
            // The submitter did not wait for the work, which still runs (it
            // was taken by the worker; its first line may run a moment later).
            await started.wait(for: 1)
            #expect(started.value == 1)
            #expect(pool.load.running == 1)
            release.increment()
        }
    }

    @Test("shutdown finishes every accepted job, refuses new ones, and run() returns after the drain")
    func drainOnShutdown() async throws {
        let pool = try WorkerPool<Int>(configuration: .init(workers: 2, queueCapacity: 8)) { $0 }
        let gate = Gate()
        let started = Counter()
        let finished = Counter()
        try await withTimeLimit {
            let runner = Task { try await pool.run() }
            var accepted: [Task<Int, any Error>] = []
            for job in 0..<10 {
                accepted.append(Task.immediate {
                    try await pool.submit { _ in
                        started.increment()
                        await gate.wait()
                        finished.increment()
                        return job
                    }
                })
            }
            let waiting = Task.immediate { try await pool.submit { _ in -1 } }
            await started.wait(for: 2)
            #expect(pool.load.queued == 8)
            #expect(pool.load.waiting == 1)

            pool.shutdown()
            pool.shutdown()  // again: nothing more happens
            #expect(poolError(await #expect(throws: WorkerPoolError.self) { try await waiting.value }!) == .shutDown)
            let late = await #expect(throws: WorkerPoolError.self) { try await pool.submit { _ in 0 } }
            #expect(late?.code == .shutDown)
            let lateTry = await #expect(throws: WorkerPoolError.self) { try await pool.trySubmit { _ in 0 } }
            #expect(lateTry?.code == .shutDown)
            #expect(finished.value == 0)

            gate.open()
            try await runner.value
            #expect(finished.value == 10)
            for (job, task) in accepted.enumerated() {
                #expect(try await task.value == job)
            }
        }
        #expect(pool.load == .init(queued: 0, running: 0, waiting: 0, workers: 2, queueCapacity: 8))
    }

    @Test("work accepted before run() starts runs once it does; shutdown before run() drains it")
    func submitBeforeRun() async throws {
        let pool = try WorkerPool<Int>(configuration: .init(workers: 1, queueCapacity: 2)) { $0 + 10 }
        try await withTimeLimit {
            let early = Task.immediate { try await pool.submit { worker in worker } }
            pool.shutdown()
            try await pool.run()
            #expect(try await early.value == 10)
        }
    }

    @Test("run() twice is refused")
    func runTwice() async throws {
        let pool = try WorkerPool<Int>(configuration: .init(workers: 1, queueCapacity: 1)) { $0 }
        pool.shutdown()
        try await pool.run()
        let error = await #expect(throws: WorkerPoolError.self) { try await pool.run() }
        #expect(error?.code == .alreadyRunning)
    }

    @Test("a makeWorker failure stops the pool: run() throws it and queued work fails with it")
    func makeWorkerFailure() async throws {
        struct NoGPU: Error {}
        let madeFirst = Gate()
        let pool = try WorkerPool<Int>(configuration: .init(workers: 2, queueCapacity: 4)) { index in
            if index == 1 { throw NoGPU() }
            // Worker 0 is slow to make, so nothing is served before the failure.
            _ = await madeFirst.wait()
            try Task.checkCancellation()
            return index
        }
        let ran = Counter()
        try await withTimeLimit {
            var queued: [Task<Void, any Error>] = []
            for _ in 0..<3 {
                queued.append(Task.immediate { try await pool.submit { _ in ran.increment() } })
            }
            let error = await #expect(throws: WorkerPoolError.self) { try await pool.run() }
            #expect(error?.code == .workerFailed)
            #expect(error?.cause is NoGPU)
            for task in queued {
                let jobError = await #expect(throws: WorkerPoolError.self) { try await task.value }
                #expect(jobError?.code == .workerFailed)
            }
            let later = await #expect(throws: WorkerPoolError.self) { try await pool.submit { _ in ran.increment() } }
            #expect(later?.code == .workerFailed)
        }
        #expect(ran.value == 0)
    }

    @Test("after a makeWorker failure, queued work fails at once even while a worker is stuck in work")
    func makeWorkerFailureWithBusyWorker() async throws {
        struct NoGPU: Error {}
        let failNow = Gate()
        let pool = try WorkerPool<Int>(configuration: .init(workers: 2, queueCapacity: 4)) { index in
            if index == 1 {
                await failNow.wait()
                throw NoGPU()
            }
            return index
        }
        let started = Counter()
        let release = Counter()
        try await withTimeLimit {
            let runner = Task { try await pool.run() }
            let stuck = Task.immediate {
                try await pool.submit { _ in
                    started.increment()
                    await release.wait(for: 1)  // ignores cancellation
                }
            }
            await started.wait(for: 1)
            let queued = (0..<3).map { _ in Task.immediate { try await pool.submit { _ in } } }
            #expect(pool.load.queued == 3)
            failNow.open()
            for task in queued {
                let error = await #expect(throws: WorkerPoolError.self) { try await task.value }
                #expect(error?.code == .workerFailed)
            }
            let stuckError = await #expect(throws: WorkerPoolError.self) { try await stuck.value }
            #expect(stuckError?.code == .workerFailed)
            #expect(started.value == 1)
            release.increment()
            let runError = await #expect(throws: WorkerPoolError.self) { try await runner.value }
            #expect(runError?.cause is NoGPU)
        }
    }

    @Test("a worker that takes queued jobs after a stop fails each once and goes on to the next")
    func queuedJobsTakenAfterAStopFailOnce() async throws {
        let pool = try WorkerPool<Int>(configuration: .init(workers: 1, queueCapacity: 4)) { $0 }
        let started = Counter()
        let release = Gate()
        let ran = Counter()
        try await withTimeLimit(.seconds(30)) {
            let runner = Task { try await pool.run() }
            let busy = Task.immediate {
                try await pool.submit { _ in
                    started.increment()
                    await release.wait()
                }
            }
            await started.wait(for: 1)
            let queued = (0..<3).map { _ in Task.immediate { try await pool.submit { _ in ran.increment() } } }
            #expect(pool.load.queued == 3)
            // Stopped as the worker sees it, with no timer failing the queued
            // jobs first: the worker finds each refused when it takes it.
            pool.state.withLock { $0.stopError = WorkerPoolError(.shutDown, "stopped by the test") }
            release.open()
            try await busy.value
            for task in queued {
                let error = await #expect(throws: WorkerPoolError.self) { try await task.value }
                #expect(error?.message == "stopped by the test")
            }
            pool.shutdown()
            _ = try? await runner.value
        }
        #expect(ran.value == 0)
    }

    @Test("cancelling run() fails queued work with shutDown and cancels running work")
    func runCancelled() async throws {
        let pool = try WorkerPool<Int>(configuration: .init(workers: 1, queueCapacity: 4)) { $0 }
        let started = Counter()
        let sawCancellation = Counter()
        try await withTimeLimit {
            let runner = Task { try await pool.run() }
            let running = Task.immediate {
                try await pool.submit { _ in
                    started.increment()
                    await Gate().wait()
                    if Task.isCancelled { sawCancellation.increment() }
                }
            }
            await started.wait(for: 1)
            let queued = Task.immediate { try await pool.submit { _ in 1 } }
            runner.cancel()
            await #expect(throws: CancellationError.self) { try await runner.value }
            #expect(poolError(await #expect(throws: WorkerPoolError.self) { try await running.value }!) == .shutDown)
            #expect(poolError(await #expect(throws: WorkerPoolError.self) { try await queued.value }!) == .shutDown)
            #expect(sawCancellation.value == 1)
            let later = await #expect(throws: WorkerPoolError.self) { try await pool.trySubmit { _ in 0 } }
            #expect(later?.code == .shutDown)
        }
    }

    @Test("a flood of 20,000 trySubmits: every call answered, the queue never over capacity, nothing left")
    func flood() async throws {
        // 300 times the queue's capacity, yet short: the suites beside it share two cores.
        let total = 20_000
        let inFlight = 256
        let capacity = 64
        let overCapacity = Counter()
        let (succeeded, overloaded) = try await withPool(workers: 4, queueCapacity: capacity) { pool in
            try await withThrowingTaskGroup(of: Bool.self) { group in
                var succeeded = 0
                var overloaded = 0
                func add(_ job: Int) {
                    group.addTask {
                        do {
                            let value = try await pool.trySubmit { _ in
                                if pool.load.queued > capacity { overCapacity.increment() }
                                await Task.yield()
                                return job
                            }
                            return value == job
                        } catch let error as WorkerPoolError where error.code == .overloaded {
                            return false
                        }
                    }
                }
                for job in 0..<inFlight { add(job) }
                var next = inFlight
                while let ok = try await group.next() {
                    if ok { succeeded += 1 } else { overloaded += 1 }
                    if next < total {
                        add(next)
                        next += 1
                    }
                }
                #expect(pool.load == .init(queued: 0, running: 0, waiting: 0, workers: 4, queueCapacity: capacity))
                // With the workers held and the queue full, more tries cost nothing and change nothing.
                let gate = Gate()
                let started = Counter()
                var held: [Task<Void, any Error>] = []
                for _ in 0..<4 {
                    held.append(Task.immediate { try await pool.trySubmit { _ in started.increment(); await gate.wait() } })
                }
                await started.wait(for: 4)
                for _ in 0..<capacity {
                    held.append(Task.immediate { try await pool.trySubmit { _ in started.increment(); await gate.wait() } })
                }
                #expect(pool.load.queued == capacity)
                for attempt in 0..<10_000 {
                    let refused = await #expect(throws: WorkerPoolError.self) { try await pool.trySubmit { _ in } }
                    #expect(refused?.code == .overloaded)
                    // A refused try does not suspend: yield now and then, or
                    // this loop holds a thread of the cooperative pool throughout.
                    if attempt % 100 == 0 { await Task.yield() }
                }
                #expect(pool.load.freeSlots == 0)
                gate.open()
                for task in held { try await task.value }
                #expect(started.value == 4 + capacity)
                return (succeeded, overloaded)
            }
        }
        #expect(succeeded + overloaded == total)
        #expect(succeeded > 0)
        #expect(overCapacity.value == 0)
    }

    @Test("many concurrent submitters each get their own results")
    func concurrentSubmitters() async throws {
        let answers = try await withPool(workers: 4, queueCapacity: 16) { pool in
            try await withThrowingTaskGroup(of: (Int, [Int]).self) { group in
                for submitter in 0..<100 {
                    group.addTask {
                        var results: [Int] = []
                        for call in 0..<20 {
                            results.append(try await pool.submit { worker in
                                #expect((0..<4).contains(worker))
                                await Task.yield()
                                return submitter * 1000 + call
                            })
                        }
                        return (submitter, results)
                    }
                }
                return try await group.reduce(into: [Int: [Int]]()) { $0[$1.0] = $1.1 }
            }
        }
        #expect(answers.count == 100)
        for (submitter, results) in answers {
            #expect(results == (0..<20).map { submitter * 1000 + $0 })
        }
    }

    @Test("work that throws hands its own error to its submitter")
    func workErrors() async throws {
        struct Boom: Error, Equatable { var job: Int }
        try await withPool(workers: 2, queueCapacity: 2) { pool in
            for job in 0..<4 {
                let error = await #expect(throws: Boom.self) { try await pool.submit { _ in throw Boom(job: job) } }
                #expect(error == Boom(job: job))
            }
            let fine = try await pool.submit { worker in worker >= 0 }
            #expect(fine)
        }
    }
}

// MARK: - Lifecycle: the scoped form, the Service form, misuse

@Suite("WorkerPool lifecycle")
struct WorkerPoolLifecycleTests {
    @Test("withPool runs the body's work, returns its result, and the pool has stopped afterwards")
    func scopedRunsAndStops() async throws {
        let escaped = Locked<WorkerPool<Int>?>(nil)
        let results = try await withTimeLimit {
            try await WorkerPool.withPool(configuration: .init(workers: 3, queueCapacity: 8)) { index in
                index * 100
            } body: { pool in
                escaped.withLock { $0 = pool }
                return try await withThrowingTaskGroup(of: Int.self) { group in
                    for job in 0..<20 {
                        group.addTask { try await pool.submit { worker in worker + job } }
                    }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
            }
        }
        #expect(results.map { $0 % 100 }.sorted() == Array(0..<20))
        #expect(results.allSatisfy { [0, 100, 200].contains($0 / 100 * 100) })

        let pool = try #require(escaped.withLock { $0 })
        #expect(pool.load == .init(queued: 0, running: 0, waiting: 0, workers: 3, queueCapacity: 8))
        let submitted = await #expect(throws: WorkerPoolError.self) { try await pool.submit { $0 } }
        #expect(submitted?.code == .shutDown)
        #expect(submitted?.message.contains("stopped") == true, "\(String(describing: submitted))")
        let tried = await #expect(throws: WorkerPoolError.self) { try await pool.trySubmit { $0 } }
        #expect(tried?.code == .shutDown)
        let enqueued = #expect(throws: WorkerPoolError.self) {
            _ = try pool.tryEnqueue({ $0 }, completion: { _, _ in Issue.record("a refused job has no outcome") })
        }
        #expect(enqueued?.code == .shutDown)
        let again = await #expect(throws: WorkerPoolError.self) { try await pool.run() }
        #expect(again?.code == .alreadyRunning)
    }

    @Test("withPool returns only after work accepted before the body returned has run")
    func scopedDrainsAcceptedWork() async throws {
        let gate = Gate()
        let bodyReturned = Gate()
        let started = Counter()
        let finished = Counter()
        let escaped = Locked<Task<Int, any Error>?>(nil)
        try await withTimeLimit {
            try await WorkerPool.withPool(configuration: .init(workers: 1, queueCapacity: 2)) { index in
                index
            } body: { pool in
                // Submitted from a task of its own, so the body does not wait for it.
                escaped.withLock {
                    $0 = Task.immediate {
                        try await pool.submit { _ in
                            started.increment()
                            await gate.wait()
                            finished.increment()
                            return 7
                        }
                    }
                }
                await started.wait(for: 1)
                // The work can finish only after the body has returned.
                Task {
                    await bodyReturned.wait()
                    gate.open()
                }
                bodyReturned.open()
            }
        }
        #expect(finished.value == 1)
        let task = try #require(escaped.withLock { $0 })
        #expect(try await task.value == 7)
    }

    @Test("a body that throws stops the pool at once; withPool rethrows the body's error")
    func scopedBodyThrows() async throws {
        struct Boom: Error {}
        let escaped = Locked<WorkerPool<Int>?>(nil)
        let tasks = Locked<[Task<Int, any Error>]>([])
        let started = Counter()
        let sawCancellation = Counter()
        await #expect(throws: Boom.self) {
            try await withTimeLimit {
                try await WorkerPool.withPool(configuration: .init(workers: 1, queueCapacity: 2)) { index in
                    index
                } body: { pool in
                    escaped.withLock { $0 = pool }
                    let running = Task.immediate {
                        try await pool.submit { _ in
                            started.increment()
                            await Gate().wait()  // only cancellation ends this
                            if Task.isCancelled { sawCancellation.increment() }
                            return 1
                        }
                    }
                    await started.wait(for: 1)
                    let queued = Task.immediate { try await pool.submit { _ in 2 } }
                    tasks.withLock { $0 = [running, queued] }
                    throw Boom()
                }
            }
        }
        // withPool waited for the stop: the running work saw its cancellation.
        #expect(sawCancellation.value == 1)
        for task in tasks.withLock({ $0 }) {
            let error = await #expect(throws: WorkerPoolError.self) { try await task.value }
            #expect(error?.code == .shutDown)
        }
        let pool = try #require(escaped.withLock { $0 })
        let later = await #expect(throws: WorkerPoolError.self) { try await pool.submit { $0 } }
        #expect(later?.code == .shutDown)
    }

    @Test("cancelling the task that calls withPool stops the pool and throws CancellationError")
    func scopedCancelled() async throws {
        let started = Counter()
        let sawCancellation = Counter()
        try await withTimeLimit {
            let task = Task {
                try await WorkerPool.withPool(configuration: .init(workers: 1, queueCapacity: 1)) { index in
                    index
                } body: { pool in
                    try await pool.submit { _ in
                        started.increment()
                        await Gate().wait()  // only cancellation ends this
                        if Task.isCancelled { sawCancellation.increment() }
                        return 1
                    }
                }
            }
            await started.wait(for: 1)
            task.cancel()
            await #expect(throws: CancellationError.self) { try await task.value }
        }
        #expect(sawCancellation.value == 1)
    }

    @Test("a makeWorker failure ends withPool with workerFailed")
    func scopedWorkerFails() async throws {
        struct NoGPU: Error {}
        let error = await #expect(throws: WorkerPoolError.self) {
            try await withTimeLimit {
                try await WorkerPool<Int>.withPool(configuration: .init(workers: 2, queueCapacity: 2)) { index in
                    if index == 1 { throw NoGPU() }
                    return index
                } body: { pool in
                    try await pool.submit { $0 }
                }
            }
        }
        #expect(error?.code == .workerFailed)
        #expect(error?.cause is NoGPU)
    }

    @Test("in a ServiceGroup, a graceful shutdown finishes the queued work, refuses new work, and run() returns")
    func serviceDrainsOnGracefulShutdown() async throws {
        let pool = try WorkerPool<Int>(configuration: .init(workers: 1, queueCapacity: 3)) { $0 }
        let group = ServiceGroup(services: [pool], gracefulShutdownSignals: [], logger: Logger(label: "test"))
        let gate = Gate()
        let started = Counter()
        let finished = Counter()
        try await withTimeLimit {
            let running = Task { try await group.run() }
            let blocker = Task.immediate {
                try await pool.submit { _ in
                    started.increment()
                    await gate.wait()
                    finished.increment()
                    return 0
                }
            }
            await started.wait(for: 1)  // the group runs the pool
            let queued = (1...3).map { job in
                Task.immediate {
                    try await pool.submit { _ in
                        finished.increment()
                        return job
                    }
                }
            }
            let waiting = Task.immediate { try await pool.submit { _ in -1 } }
            #expect(pool.load.queued == 3)
            #expect(pool.load.waiting == 1)

            await group.triggerGracefulShutdown()
            // Waiting for room, it had not been accepted: it fails, its work never ran.
            let waitingError = await #expect(throws: WorkerPoolError.self) { try await waiting.value }
            #expect(waitingError?.code == .shutDown)
            let late = await #expect(throws: WorkerPoolError.self) { try await pool.trySubmit { _ in -2 } }
            #expect(late?.code == .shutDown)
            #expect(finished.value == 0)

            gate.open()
            try await running.value
            #expect(finished.value == 4)
            #expect(try await blocker.value == 0)
            for (index, task) in queued.enumerated() {
                #expect(try await task.value == index + 1)
            }
        }
        #expect(pool.load == .init(queued: 0, running: 0, waiting: 0, workers: 1, queueCapacity: 3))
    }

    @Test("cancelling a ServiceGroup stops its pool at once: queued work fails, running work is cancelled")
    func serviceCancelled() async throws {
        let pool = try WorkerPool<Int>(configuration: .init(workers: 1, queueCapacity: 2)) { $0 }
        let group = ServiceGroup(services: [pool], gracefulShutdownSignals: [], logger: Logger(label: "test"))
        let started = Counter()
        let sawCancellation = Counter()
        try await withTimeLimit {
            let running = Task { try await group.run() }
            let blocker = Task.immediate {
                try await pool.submit { _ in
                    started.increment()
                    await Gate().wait()  // only cancellation ends this
                    if Task.isCancelled { sawCancellation.increment() }
                    return 0
                }
            }
            await started.wait(for: 1)
            let queued = Task.immediate { try await pool.submit { _ in 1 } }
            running.cancel()
            _ = try? await running.value  // the group ends; whether it throws is the group's business
            for task in [blocker, queued] {
                let error = await #expect(throws: WorkerPoolError.self) { try await task.value }
                #expect(error?.code == .shutDown)
            }
            let later = await #expect(throws: WorkerPoolError.self) { try await pool.submit { _ in 2 } }
            #expect(later?.code == .shutDown)
        }
        #expect(sawCancellation.value == 1)
    }

    @Test("a submit to a pool that nobody runs fails with notRunning after a second, on the pool's clock")
    func submitToPoolNeverRun() async throws {
        let clock = TestClock()
        let pool = try WorkerPool<Int>(configuration: .init(workers: 1, queueCapacity: 4), clock: clock) { $0 }
        let ran = Counter()
        try await withTimeLimit {
            let submitted = Task { try await pool.submit { _ in ran.increment() } }
            let tried = Task { try await pool.trySubmit { _ in ran.increment() } }
            await clock.waitForSleeps(2)  // each submit watches for run() to begin
            clock.advance(by: .milliseconds(999))
            #expect(pool.load.queued == 2)
            clock.advance(by: .milliseconds(1))
            for task in [submitted, tried] {
                let error = await #expect(throws: WorkerPoolError.self) { try await task.value }
                #expect(error?.code == .notRunning)
                #expect(error?.message.contains("run()") == true, "\(String(describing: error))")
            }
        }
        #expect(ran.value == 0)
    }

    @Test("before run(), a submit's own shorter timeout still ends it on time")
    func timeoutBeforeRun() async throws {
        let clock = TestClock()
        let pool = try WorkerPool<Int>(configuration: .init(workers: 1, queueCapacity: 4), clock: clock) { $0 }
        try await withTimeLimit {
            let submitted = Task { try await pool.submit(timeout: .milliseconds(200)) { $0 } }
            await clock.waitForSleeps(1)
            clock.advance(by: .milliseconds(200))
            let error = await #expect(throws: WorkerPoolError.self) { try await submitted.value }
            #expect(error?.code == .deadlineExceeded)
        }
    }

    @Test("a submit that comes before run() begins waits for it and is served")
    func submitRacingRun() async throws {
        let clock = TestClock()
        let pool = try WorkerPool<Int>(configuration: .init(workers: 1, queueCapacity: 4), clock: clock) { $0 + 1 }
        try await withTimeLimit {
            let early = Task { try await pool.submit { worker in worker * 10 } }
            await clock.waitForSleeps(1)
            clock.advance(by: .milliseconds(900))  // late, but within the second
            let runner = Task { try await pool.run() }
            #expect(try await early.value == 10)
            pool.shutdown()
            try await runner.value
        }
    }
}
