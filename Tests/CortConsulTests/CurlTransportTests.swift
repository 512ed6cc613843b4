import FlyingFox
import Foundation
import Synchronization
import Testing
@testable import CortConsul

@Suite struct CurlTransportTests {
    @Test func requestsReuseTheirConnection() async throws {
        try await withStubAgent({ _ in consulAnswer("[]", index: 4) }) { agent in
            let client = try agent.client()
            for _ in 0..<5 { _ = try await client.healthService("greeter") }
            #expect(agent.requests.count == 5)
            #expect(client.connectionsOpened == 1)
        }
    }

    @Test func aSlowAnswerTimesOut() async throws {
        try await withStubAgent({ _ in
            try await Task.sleep(for: .seconds(30))
            return consulAnswer("[]")
        }) { agent in
            let client = try agent.client { $0.requestTimeout = .milliseconds(200) }
            let error = await #expect(throws: ConsulError.self) { try await client.leader() }
            #expect(error?.code == .timeout)
            #expect(error?.isTransient == true)
        }
    }

    @Test func aBlockingQueryGetsItsWaitPlusJitterPlusMargin() throws {
        var configuration = ConsulConfiguration()
        configuration.requestTimeout = .seconds(10)
        let client = try ConsulClient(configuration: configuration)
        #expect(client.blockingTimeout(wait: .seconds(64)) == .seconds(78))
        let blocking = client.blockingRequest("/v1/health/service/a", [], index: 5, wait: .seconds(32))
        #expect(blocking.timeout == .seconds(44))
        #expect(blocking.target == "/v1/health/service/a?index=5&wait=32s")
        let immediate = client.blockingRequest("/v1/health/service/a", [], index: 0, wait: .seconds(32))
        #expect(immediate.timeout == .seconds(10))
        #expect(immediate.target == "/v1/health/service/a")
    }

    @Test func cancellingTheTaskAbandonsABlockingQuery() async throws {
        let arrived = AsyncStream<Void>.makeStream()
        try await withStubAgent({ _ in
            arrived.continuation.yield()
            try await Task.sleep(for: .seconds(60))
            return consulAnswer("[]")
        }) { agent in
            let client = try agent.client()
            let query = Task { try await client.healthService("greeter", index: 9, wait: .seconds(60)) }
            var iterator = arrived.stream.makeAsyncIterator()
            await iterator.next()
            query.cancel()
            let result = await query.result
            #expect(throws: ConsulError.self) { try result.get() }
            #expect((try? result.get()) == nil)
            if case .failure(let error as ConsulError) = result {
                #expect(error.code == .cancelled)
            }
        }
    }

    @Test func aTaskCancelledBeforeItsRequestNeverSendsIt() async throws {
        try await withStubAgent({ _ in consulAnswer("[]") }) { agent in
            let client = try agent.client()
            let query = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await client.healthService("greeter")
            }
            let result = await query.result
            if case .failure(let error as ConsulError) = result {
                #expect(error.code == .cancelled)
            } else {
                Issue.record("expected a cancelled error, got \(result)")
            }
            // A later request on the same client goes through.
            _ = try await client.healthService("greeter")
            #expect(agent.requests.count == 1)
        }
    }

    @Test func manyBlockingQueriesShareTheOneThread() async throws {
        let release = Mutex<Bool>(false)
        let waiting = Atomic<Int>(0)
        let allWaiting = AsyncStream<Void>.makeStream()
        let count = 24
        try await withStubAgent({ _ in
            if waiting.add(1, ordering: .relaxed).newValue == count { allWaiting.continuation.yield() }
            for _ in 0..<600 where !release.withLock({ $0 }) {
                try await Task.sleep(for: .milliseconds(50))
            }
            return consulAnswer("[]", index: 10)
        }) { agent in
            let client = try agent.client()
            try await withThrowingTaskGroup(of: UInt64.self) { group in
                for _ in 0..<count {
                    group.addTask { try await client.healthService("greeter", index: 9, wait: .seconds(30)).index }
                }
                var iterator = allWaiting.stream.makeAsyncIterator()
                await iterator.next()
                // All queries are held by the agent at once; none blocks a pool thread.
                #expect(waiting.load(ordering: .relaxed) == count)
                release.withLock { $0 = true }
                var indexes: [UInt64] = []
                for try await index in group { indexes.append(index) }
                #expect(indexes == Array(repeating: 10, count: count))
            }
            #expect(client.transport.loop.transfersCompleted.load(ordering: .relaxed) == count)
        }
    }

    @Test func shutdownFailsWhatIsInFlightAndWhatComesLater() async throws {
        let arrived = AsyncStream<Void>.makeStream()
        try await withStubAgent({ _ in
            arrived.continuation.yield()
            try await Task.sleep(for: .seconds(60))
            return consulAnswer("[]")
        }) { agent in
            let client = try agent.client()
            let query = Task { try await client.healthService("greeter", index: 9, wait: .seconds(60)) }
            var iterator = arrived.stream.makeAsyncIterator()
            await iterator.next()
            client.shutdown()
            if case .failure(let error as ConsulError) = await query.result {
                #expect(error.code == .shutDown)
            } else {
                Issue.record("expected shutDown")
            }
            let later = await #expect(throws: ConsulError.self) { try await client.leader() }
            #expect(later?.code == .shutDown)
        }
    }

    @Test func basicAuthIsSentAsAnAuthorizationHeader() async throws {
        try await withStubAgent({ _ in consulAnswer(#""10.0.0.1:8300""#, index: nil) }) { agent in
            let client = try agent.client { $0.basicAuth = .init(username: "admin", password: "pw") }
            _ = try await client.leader()
            let header = try #require(agent.requests.first?.headers["authorization"])
            #expect(header == "Basic " + Data("admin:pw".utf8).base64EncodedString())
            #expect(agent.requests.first?.headers["x-consul-token"] == nil)
        }
    }

    @Test func aUnixSocketEndpointWorks() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cort-consul-\(UUID().uuidString.prefix(8)).sock").path
        let server = HTTPServer(address: .unix(path: path), timeout: 30, logger: .disabled, handler: ClosureHTTPHandler { _ in
            consulAnswer(#""10.0.0.2:8300""#, index: nil)
        })
        let task = Task { try await server.run() }
        defer {
            task.cancel()
            try? FileManager.default.removeItem(atPath: path)
        }
        try await server.waitUntilListening(timeout: 30)
        var configuration = try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_ADDR": "unix://\(path)"])
        configuration.requestTimeout = .seconds(30)  // a loaded machine's server may be slow to answer
        let client = try ConsulClient(configuration: configuration)
        let leader = try await client.leader()
        #expect(leader == "10.0.0.2:8300")
        await server.stop(timeout: 0)
    }
}
