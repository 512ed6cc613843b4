import Cort
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// The snippets of docs/WORKER-POOLS.md, run. Each is, without its
/// indentation, the region `// snippet: NAME` … `// end snippet` here that the
/// page marks `<!-- snippet: NAME -->` before its block; DocSnippetTests keeps
/// the page and this file in step.
@Suite("WorkerPool usage (docs/WORKER-POOLS.md)", .timeLimit(.minutes(1)))
struct WorkerPoolUsageTests {
    @Test("the scoped form counts the words and stops the pool")
    func scopedForm() async throws {
        // snippet: WORKER-POOLS-scoped
        struct Tokenizer: Sendable {
            let id: Int
            func count(_ text: String) -> Int { text.split(separator: " ").count }
        }

        let words = try await WorkerPool.withPool(configuration: .init(workers: 4, queueCapacity: 16)) { index in
            Tokenizer(id: index)  // one per worker, made as the pool starts
        } body: { pool in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for text in ["one two three", "four five", "six"] {
                    group.addTask { try await pool.submit { tokenizer in tokenizer.count(text) } }
                }
                return try await group.reduce(0, +)
            }
        }
        // words == 6, and the pool has stopped: nothing of it runs on in the background.
        // end snippet
        #expect(words == 6)
    }

    @Test("the Service form in a ServiceGroup drains and stops when the group shuts down")
    func serviceForm() async throws {
        // snippet: WORKER-POOLS-service
        /// A batch job: counts the words of its texts on the pool, then ends.
        struct WordCounter: Service {
            let pool: WorkerPool<Int>
            let texts: [String]
            let counts: AsyncStream<Int>.Continuation

            func run() async throws {
                for text in texts {
                    let words = try await pool.submit(timeout: .seconds(5)) { _ in text.split(separator: " ").count }
                    counts.yield(words)
                }
                counts.finish()
            }
        }

        let pool = try WorkerPool(configuration: .init(workers: 2, queueCapacity: 8)) { index in index }
        let (counts, countsInput) = AsyncStream.makeStream(of: Int.self)
        let counter = WordCounter(pool: pool, texts: ["one two", "three four five"], counts: countsInput)
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: pool),  // first, so it is shut down last
                .init(service: counter, successTerminationBehavior: .gracefullyShutdownGroup),
            ],
            logger: Logger(label: "word-count")
        ))
        try await group.run()  // the counter ends, so the group shuts down: the pool drains and stops
        var total = 0
        for await words in counts { total += words }
        // total == 5
        // end snippet
        #expect(total == 5)
        let stopped = await #expect(throws: WorkerPoolError.self) { try await pool.submit { $0 } }
        #expect(stopped?.code == .shutDown)
    }

    @Test("a pool run by hand in a task group, shut down by hand")
    func byHand() async throws {
        // snippet: WORKER-POOLS-by-hand
        let pool = try WorkerPool(configuration: .init(workers: 2, queueCapacity: 8)) { index in index }
        let answer = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await pool.run() }
            let answer = try await pool.submit { _ in 40 + 2 }
            pool.shutdown()  // without it run() never returns, and neither does the group
            try await group.waitForAll()
            return answer
        }
        // answer == 42
        // end snippet
        #expect(answer == 42)
    }

    @Test("a submit to a pool nobody runs fails with notRunning after a second")
    func neverRun() async throws {
        // snippet: WORKER-POOLS-never-run
        let pool = try WorkerPool(configuration: .init(workers: 2, queueCapacity: 8)) { index in index }
        var refusal: WorkerPoolError?
        do {
            _ = try await pool.submit { worker in worker }  // nobody calls pool.run()
        } catch let error as WorkerPoolError {
            refusal = error  // a second later, code .notRunning: the work did not run
        }
        // end snippet
        #expect(refusal?.code == .notRunning)
        #expect(refusal?.message.contains("run()") == true)
    }

    @Test("trySubmit on a full queue: each job runs or is refused, none is lost")
    func overload() async throws {
        // snippet: WORKER-POOLS-overload
        let replies = try await WorkerPool.withPool(configuration: .init(workers: 1, queueCapacity: 1)) { index in
            index
        } body: { pool in
            try await withThrowingTaskGroup(of: String.self) { group in
                for job in 0..<10 {
                    group.addTask {
                        do {
                            return try await pool.trySubmit { _ in "job \(job) done" }
                        } catch let error as WorkerPoolError where error.code == .overloaded {
                            return "job \(job) refused"  // it did not run: try later, elsewhere, or say "busy"
                        }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        // 10 replies: each job ran or was refused, none lost and none waiting forever
        // end snippet
        #expect(replies.count == 10)
        #expect(replies.contains { $0.hasSuffix("done") })
        #expect(replies.allSatisfy { $0.hasSuffix("done") || $0.hasSuffix("refused") })
    }

    @Test("a timeout cancels slow work and the submit says deadlineExceeded")
    func deadline() async throws {
        // snippet: WORKER-POOLS-deadline
        let outcome = try await WorkerPool.withPool(configuration: .init(workers: 1, queueCapacity: 4)) { index in
            index
        } body: { pool in
            do {
                try await pool.submit(timeout: .milliseconds(100)) { _ in
                    try await Task.sleep(for: .seconds(60))  // slow work that honours cancellation
                }
                return "finished"
            } catch let error as WorkerPoolError where error.code == .deadlineExceeded {
                return "gave up after 100 ms"  // its task was cancelled, or it never started
            }
        }
        // outcome == "gave up after 100 ms"
        // end snippet
        #expect(outcome == "gave up after 100 ms")
    }
}
