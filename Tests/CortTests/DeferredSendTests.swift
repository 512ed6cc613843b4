@testable import Cort
import Distributed
import Foundation
import Testing

/// With many calls in flight, a caller files its requests and one flush
/// sends them together (`RemoteServiceState.deferredSendsFrom`). A filed
/// request is in flight for its call, but has not left: cancelled, timed out
/// or cut off from its node before it leaves, it never reaches a node.
@Suite("Requests sent together while many calls are in flight")
struct DeferredSendTests {
    static let inFlight = RemoteServiceState.deferredSendsFrom
    /// Room on a node for every held call and the quick ones beside them.
    static let replicas = inFlight + 2

    /// Starts `inFlight` calls that stay on their nodes until cancelled, and
    /// waits until the nodes have them all.
    static func hold(_ gate: HoldingGate, nodes: [CortSystem],
                     timeout: Duration? = nil) async throws -> [Task<Int, any Error>] {
        let holds = (0..<inFlight).map { index in
            Task { try await withCallOptions(timeout: timeout) { try await gate.hold(index) } }
        }
        let arrived = try await MetricsTests.eventually {
            var requests = 0
            for node in nodes { requests += try await node.nodeCounters().requests }
            return requests >= holds.count
        }
        #expect(arrived, "the held calls did not all reach the nodes")
        return holds
    }

    /// Holds `remote`'s flushes and runs `call`; returns once its request is
    /// filed in the outbox (or after 30 seconds, having recorded an issue).
    static func filed<T: Sendable>(on remote: RemoteService,
                                   _ call: @escaping @Sendable () async throws -> T) async -> Task<T, any Error> {
        let (filings, filing) = AsyncStream<Void>.makeStream()
        remote.holdFlushes { filing.yield() }
        let task = Task { try await call() }
        let wasFiled = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                var iterator = filings.makeAsyncIterator()
                return await iterator.next() != nil
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(30))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            filing.finish()
            return first
        }
        #expect(wasFiled, "the request was not filed in the outbox")
        return task
    }

    static func requests(_ nodes: [CortSystem]) async throws -> Int {
        var total = 0
        for node in nodes { total += try await node.nodeCounters().requests }
        return total
    }

    /// `count` nodes hosting the gate, a caller whose service has made a
    /// call, and `inFlight` calls held on the nodes while `body` runs.
    static func withHeldCalls(
        nodes count: Int, holdFor timeout: Duration? = nil,
        _ body: ([CortSystem], HoldingGate, RemoteService, [Task<Int, any Error>]) async throws -> Void
    ) async throws {
        try await withNodes(count, host: { node, _ in
            try await node.host("gate", replicas: Self.replicas) { HoldingGate(actorSystem: $0) }
        }) { nodes, caller in
            let gate = try HoldingGate.resolve(id: .service("gate"), using: caller)
            #expect(try await gate.echo(1) == 1)
            let remote = try #require(caller.existingRemoteService("gate"))
            let holds = try await Self.hold(gate, nodes: nodes, timeout: timeout)
            defer { for hold in holds { hold.cancel() } }
            try await body(nodes, gate, remote, holds)
        }
    }

    @Test func aFiledRequestLeavesWhenFlushedAndIsAnswered() async throws {
        try await Self.withHeldCalls(nodes: 1) { nodes, gate, remote, holds async throws in
            let quick = await Self.filed(on: remote) { try await gate.echo(2) }
            #expect(remote.unsentNodeKeys.count == 1)
            // In flight for its caller, not on the node yet.
            #expect(try await Self.requests(nodes) == 1 + holds.count)
            remote.releaseFlushes()
            #expect(try await quick.value == 2)
            #expect(try await Self.requests(nodes) == 2 + holds.count)
        }
    }

    /// A caller on the global pool queues its flush there, behind the
    /// callers resumed before it, not on the reactor: its request leaves
    /// while the reactor runs a job that does not end until the test sees
    /// the request on the node (or 30 seconds pass).
    @Test(.enabled(if: RemoteServiceState.defersSends))
    func aFiledRequestLeavesWhileTheCallersReactorIsBusy() async throws {
        try await Self.withHeldCalls(nodes: 1) { nodes, gate, remote, holds async throws in
            let (started, start) = AsyncStream<Void>.makeStream()
            let release = DispatchSemaphore(value: 0)
            gate.actorSystem.reactor.execute {
                start.yield()
                _ = release.wait(timeout: .now() + 30)
            }
            var iterator = started.makeAsyncIterator()
            await iterator.next()
            let quick = Task { try await gate.echo(2) }
            let left = try await MetricsTests.eventually { try await Self.requests(nodes) == 2 + holds.count }
            release.signal()
            #expect(left, "the filed request did not leave while the caller's reactor was busy")
            #expect(try await quick.value == 2)
        }
    }

    @Test func aFiledRequestWhoseCallerIsCancelledNeverLeaves() async throws {
        try await Self.withHeldCalls(nodes: 1) { nodes, gate, remote, holds async throws in
            let cancelled = await Self.filed(on: remote) { try await gate.echo(2) }
            cancelled.cancel()
            let error = await #expect(throws: RemoteCallError.self) { try await cancelled.value }
            #expect(error?.code == .cancelled)
            #expect(remote.unsentNodeKeys.isEmpty)
            remote.releaseFlushes()
            // A later call goes out after anything the flush sent: the node
            // has it and the held calls, and never had the cancelled one.
            #expect(try await gate.echo(3) == 3)
            #expect(try await Self.requests(nodes) == 2 + holds.count)
            #expect(try await nodes[0].nodeCounters().cancelled == 0)
        }
    }

    @Test func aFiledRequestForANodeThatFailsGoesToAnotherEvenIfNotIdempotent() async throws {
        // The node that goes drains its held calls first: they end at their deadline.
        try await Self.withHeldCalls(nodes: 2, holdFor: .seconds(3)) { nodes, gate, remote, _ async throws in
            let quick = await Self.filed(on: remote) { try await gate.echo(2) }
            let key = try #require(remote.unsentNodeKeys.first)
            let failing = try #require(nodes.firstIndex { node in node.endpoint.map { key.contains($0) } == true })
            await nodes[failing].shutdown()
            // The caller finds the node gone while the request waits: it
            // never left, so it may go to the other node.
            let noticed = await MetricsTests.eventually { !remote.unsentNodeKeys.contains(key) }
            #expect(noticed, "the caller did not notice the node's failure")
            remote.releaseFlushes()
            #expect(try await quick.value == 2)
        }
    }

    @Test func requestsFiledForOneNodeLeaveInOneBatch() async throws {
        try await Self.withHeldCalls(nodes: 1) { nodes, gate, remote, holds async throws in
            let batchesBefore = try await nodes[0].nodeCounters().batches
            var quick: [Task<Int, any Error>] = []
            for value in 2...4 {
                quick.append(await Self.filed(on: remote) { try await gate.echo(value) })
            }
            #expect(remote.unsentNodeKeys.count == 3)
            remote.releaseFlushes()
            for (value, call) in zip(2...4, quick) {
                #expect(try await call.value == value)
            }
            // One message for the three, each request counted by the node.
            #expect(try await nodes[0].nodeCounters().batches == batchesBefore + 1)
            #expect(try await Self.requests(nodes) == 4 + holds.count)
        }
    }

    @Test func requestsFiledForTwoNodesLeaveOneBatchANode() async throws {
        try await Self.withHeldCalls(nodes: 2) { nodes, gate, remote, holds async throws in
            var batchesBefore = 0
            for node in nodes { batchesBefore += try await node.nodeCounters().batches }
            var quick: [Task<Int, any Error>] = []
            for value in 2...5 {
                quick.append(await Self.filed(on: remote) { try await gate.echo(value) })
            }
            let keys = remote.unsentNodeKeys
            #expect(keys.count == 4)
            remote.releaseFlushes()
            for (value, call) in zip(2...5, quick) {
                #expect(try await call.value == value)
            }
            // Each node got its requests in one message: a batch where it got two or more.
            var batches = -batchesBefore
            for node in nodes { batches += try await node.nodeCounters().batches }
            let perNode = Dictionary(grouping: keys, by: { $0 }).values.map(\.count)
            #expect(batches == perNode.filter { $0 >= 2 }.count, "\(perNode)")
            #expect(batches >= 1)
            #expect(try await Self.requests(nodes) == 5 + holds.count)
        }
    }
}
