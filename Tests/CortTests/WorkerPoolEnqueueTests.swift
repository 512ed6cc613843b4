import Cort
import Synchronization
import Testing

/// Collects completions and lets a test await the next one.
final class EnqueueOutcomes<Value: Sendable>: Sendable {
    private let stream: AsyncStream<Result<Value, any Error>>
    private let input: AsyncStream<Result<Value, any Error>>.Continuation
    private let count = Mutex(0)
    private let startedFlags = Mutex<[Bool]>([])

    init() {
        (stream, input) = AsyncStream.makeStream()
    }

    var completion: @Sendable (Result<Value, any Error>, Bool) -> Void {
        { [self] outcome, started in
            count.withLock { $0 += 1 }
            startedFlags.withLock { $0.append(started) }
            input.yield(outcome)
        }
    }

    var calls: Int { count.withLock { $0 } }
    /// Whether the work had started, for each completion so far.
    var started: [Bool] { startedFlags.withLock { $0 } }

    func next() async -> Result<Value, any Error>? {
        var iterator = stream.makeAsyncIterator()
        return await iterator.next()
    }
}

/// `tryEnqueue`: handing work over without suspending, the outcome to a
/// completion handler (how a node's reactor feeds a service's pool).
@Suite(.timeLimit(.minutes(1)))
struct WorkerPoolEnqueueTests {
    /// Runs a pool of `workers` replicas (their index) around `body`.
    func withPool(workers: Int, queueCapacity: Int,
                  _ body: @Sendable (WorkerPool<Int>) async throws -> Void) async throws {
        let pool = try WorkerPool(configuration: .init(workers: workers, queueCapacity: queueCapacity)) { $0 }
        let running = Task { try await pool.run() }
        try await body(pool)
        pool.shutdown()
        try await running.value
    }

    @Test func theCompletionGetsTheResultOnce() async throws {
        try await withPool(workers: 2, queueCapacity: 4) { pool in
            let outcomes = EnqueueOutcomes<Int>()
            _ = try pool.tryEnqueue({ worker in worker + 40 }, completion: outcomes.completion)
            let value = try await outcomes.next()?.get()
            #expect(value == 40 || value == 41)
            #expect(outcomes.calls == 1)
        }
    }

    @Test func aFullQueueRefusesAtOnceAndNeverCallsTheCompletion() async throws {
        try await withPool(workers: 1, queueCapacity: 1) { pool in
            let (release, releaseInput) = AsyncStream<Void>.makeStream()
            let started = EnqueueOutcomes<Void>()
            let first = EnqueueOutcomes<Int>()
            // One job runs (until released), one fills the queue.
            _ = try pool.tryEnqueue({ _ in
                started.completion(.success(()), true)
                for await _ in release { break }
                return 1
            }, completion: first.completion)
            _ = await started.next()
            let second = EnqueueOutcomes<Int>()
            _ = try pool.tryEnqueue({ _ in 2 }, completion: second.completion)
            let refused = EnqueueOutcomes<Int>()
            #expect(throws: WorkerPoolError.self) {
                _ = try pool.tryEnqueue({ _ in 3 }, completion: refused.completion)
            }
            releaseInput.yield()
            #expect(try await first.next()?.get() == 1)
            #expect(try await second.next()?.get() == 2)
            #expect(refused.calls == 0)
        }
    }

    @Test func cancellingTheTicketCancelsRunningWork() async throws {
        try await withPool(workers: 1, queueCapacity: 1) { pool in
            let started = EnqueueOutcomes<Void>()
            let outcome = EnqueueOutcomes<Bool>()
            let ticket = try pool.tryEnqueue({ _ -> Bool in
                started.completion(.success(()), true)
                do {
                    try await Task.sleep(for: .seconds(60))
                    return false
                } catch {
                    return Task.isCancelled
                }
            }, completion: outcome.completion)
            _ = await started.next()
            ticket.cancel()
            guard case .failure(let error) = await outcome.next() else {
                Issue.record("expected CancellationError")
                return
            }
            #expect(error is CancellationError)
            #expect(outcome.calls == 1)
            #expect(outcome.started == [true], "the work had started when it was cancelled")
        }
    }

    @Test func theCompletionSaysWhetherTheWorkHadStarted() async throws {
        try await withPool(workers: 1, queueCapacity: 2) { pool in
            let (release, releaseInput) = AsyncStream<Void>.makeStream()
            let running = EnqueueOutcomes<Void>()
            let first = EnqueueOutcomes<Int>()
            _ = try pool.tryEnqueue({ _ in
                running.completion(.success(()), true)
                for await _ in release { break }
                return 1
            }, completion: first.completion)
            _ = await running.next()
            // Queued behind the running job, then cancelled: it never ran.
            let waiting = EnqueueOutcomes<Int>()
            let ticket = try pool.tryEnqueue({ _ in 2 }, completion: waiting.completion)
            ticket.cancel()
            guard case .failure(let error) = await waiting.next() else {
                Issue.record("expected the cancelled job to fail")
                return
            }
            #expect(error is CancellationError)
            #expect(waiting.started == [false])
            releaseInput.yield()
            #expect(try await first.next()?.get() == 1)
            #expect(first.started == [true])
        }
    }

    @Test func aTimeoutEndsTheJobWithDeadlineExceeded() async throws {
        try await withPool(workers: 1, queueCapacity: 1) { pool in
            let outcome = EnqueueOutcomes<Int>()
            _ = try pool.tryEnqueue(timeout: .milliseconds(50), { _ in
                try await Task.sleep(for: .seconds(60))
                return 0
            }, completion: outcome.completion)
            guard case .failure(let error as WorkerPoolError) = await outcome.next() else {
                Issue.record("expected deadlineExceeded")
                return
            }
            #expect(error.code == .deadlineExceeded)
        }
    }

    @Test func afterShutdownItRefuses() async throws {
        let pool = try WorkerPool(configuration: .init(workers: 1, queueCapacity: 1)) { $0 }
        pool.shutdown()
        let outcome = EnqueueOutcomes<Int>()
        #expect(throws: WorkerPoolError.self) {
            _ = try pool.tryEnqueue({ _ in 1 }, completion: outcome.completion)
        }
        #expect(outcome.calls == 0)
    }
}
