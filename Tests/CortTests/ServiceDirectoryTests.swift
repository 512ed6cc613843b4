import CortTesting
import Logging
import Synchronization
import Testing
@testable import Cort

// A hang fails the test after the time limit instead of stalling the suite.
@Suite(.timeLimit(.minutes(1))) struct ServiceDirectoryTests {
    private let a = ServiceInstance(service: "greeter", id: "greeter@a", endpoint: "tcp://127.0.0.1:1")
    private let b = ServiceInstance(service: "greeter", id: "greeter@b", endpoint: "tcp://127.0.0.1:2")

    @Test func firstSubscriberStartsAWatchAndGetsTheFirstList() async throws {
        let backend = DiscoveryDouble()
        let directory = ServiceDirectory(discovery: backend)
        var events = backend.events.makeAsyncIterator()
        #expect(await directory.currentNodes(for: "greeter") == [])

        var nodes = await directory.nodes(for: "greeter").makeAsyncIterator()
        #expect(await events.next() == .started(0, service: "greeter"))
        backend.send([b, a], on: 0)
        #expect(await nodes.next() == [a, b], "sorted by id")
        #expect(await directory.currentNodes(for: "greeter") == [a, b])
    }

    @Test func changesPropagateAndIdenticalListsAreNotResent() async throws {
        let backend = DiscoveryDouble()
        let directory = ServiceDirectory(discovery: backend)
        var events = backend.events.makeAsyncIterator()
        var nodes = await directory.nodes(for: "greeter").makeAsyncIterator()
        _ = await events.next()

        backend.send([a], on: 0)
        #expect(await nodes.next() == [a])
        backend.send([a], on: 0)
        backend.send([a, b], on: 0)
        backend.send([b, a], on: 0)
        backend.send([b], on: 0)
        // The backend's lists arrive in order, so once [b] is out all five were handled.
        var last: [ServiceInstance]?
        for _ in 0..<3 where last != [b] {
            last = await nodes.next()
        }
        #expect(last == [b])
        #expect(await directory.publishedListCount(for: "greeter") == 3, "[a], [a, b], [b]")

        backend.send([], on: 0)
        #expect(await nodes.next() == [], "an empty list from a working backend is a real change")
    }

    @Test func manySubscribersShareOneWatch() async throws {
        let backend = DiscoveryDouble()
        let directory = ServiceDirectory(discovery: backend)
        var events = backend.events.makeAsyncIterator()
        var first = await directory.nodes(for: "greeter").makeAsyncIterator()
        var second = await directory.nodes(for: "greeter").makeAsyncIterator()
        var third = await directory.nodes(for: "greeter").makeAsyncIterator()
        _ = await events.next()
        backend.send([a], on: 0)
        #expect(await first.next() == [a])
        #expect(await second.next() == [a])
        #expect(await third.next() == [a])

        var late = await directory.nodes(for: "greeter").makeAsyncIterator()
        #expect(await late.next() == [a], "a late subscriber gets the last list at once")
        #expect(backend.watchCalls == 1)
        #expect(await directory.activeWatchCount == 1)
    }

    @Test func servicesAreWatchedSeparately() async throws {
        let backend = DiscoveryDouble()
        let directory = ServiceDirectory(discovery: backend)
        var events = backend.events.makeAsyncIterator()
        var greeter = await directory.nodes(for: "greeter").makeAsyncIterator()
        #expect(await events.next() == .started(0, service: "greeter"))
        var echo = await directory.nodes(for: "echo").makeAsyncIterator()
        #expect(await events.next() == .started(1, service: "echo"))
        let e = ServiceInstance(service: "echo", id: "echo@a", endpoint: "tcp://127.0.0.1:3")
        backend.send([e], on: 1)
        backend.send([a], on: 0)
        #expect(await greeter.next() == [a])
        #expect(await echo.next() == [e])
    }

    @Test func aFailingWatchKeepsTheLastGoodListAndRecoversAfterBackoff() async throws {
        let backend = DiscoveryDouble()
        let clock = TestClock()
        let logs = LogRecorder()
        let directory = ServiceDirectory(discovery: backend, clock: clock, logger: logs.logger)
        var events = backend.events.makeAsyncIterator()
        var sleeps = clock.sleeps.makeAsyncIterator()
        var nodes = await directory.nodes(for: "greeter").makeAsyncIterator()
        _ = await events.next()
        backend.send([a], on: 0)
        #expect(await nodes.next() == [a])

        // Outage: the watch throws, then a re-watch throws, then one just ends.
        backend.fail(0, DiscoveryError(.unavailable, "agent gone"))
        #expect(await events.next() == .ended(0))
        #expect(await sleeps.next() == .milliseconds(100))
        #expect(await directory.currentNodes(for: "greeter") == [a])
        #expect(backend.watchCalls == 1, "no re-watch before the backoff")

        clock.advance(by: .milliseconds(100))
        #expect(await events.next() == .started(1, service: "greeter"))
        backend.fail(1, DiscoveryError(.unavailable, "agent still gone"))
        #expect(await events.next() == .ended(1))
        #expect(await sleeps.next() == .milliseconds(400))

        clock.advance(by: .milliseconds(400))
        #expect(await events.next() == .started(2, service: "greeter"))
        backend.finish(2)
        #expect(await events.next() == .ended(2))
        #expect(await sleeps.next() == .milliseconds(900), "an ended watch is a failure too")
        #expect(await directory.currentNodes(for: "greeter") == [a])

        // Recovery: the same list is not re-sent; the next change is.
        clock.advance(by: .milliseconds(900))
        #expect(await events.next() == .started(3, service: "greeter"))
        backend.send([a], on: 3)
        backend.send([a, b], on: 3)
        #expect(await nodes.next() == [a, b], "subscribers saw no empty list during the outage")
        #expect(await directory.publishedListCount(for: "greeter") == 2)

        #expect(logs.count(.warning) == 1, "one warning per outage, not one per attempt")
        #expect(logs.count(.debug) == 2)
        #expect(logs.count(.notice) == 1, "the recovery")

        // After a recovery the backoff starts again from the minimum.
        backend.fail(3, DiscoveryError(.unavailable, "again"))
        #expect(await sleeps.next() == .milliseconds(100))
    }

    @Test func aRefusedTokenIsAnErrorOnceAndIsAskedAgainOnlyAtTheLongestBackoff() async throws {
        let backend = DiscoveryDouble()
        let clock = TestClock()
        let logs = LogRecorder()
        let directory = ServiceDirectory(discovery: backend, clock: clock, logger: logs.logger)
        var events = backend.events.makeAsyncIterator()
        var sleeps = clock.sleeps.makeAsyncIterator()
        var updates = await directory.updates(for: "greeter").makeAsyncIterator()
        _ = await events.next()
        let refusal = DiscoveryError(.unauthorized, "Consul answered 403: Permission denied")
        backend.fail(0, refusal)
        guard case .failed(let error as DiscoveryError)? = await updates.next() else {
            Issue.record("the subscriber was not told why")
            return
        }
        #expect(error.code == .unauthorized && error.message.contains("403"))
        #expect(await sleeps.next() == .seconds(10), "not the outage's 100 ms")
        clock.advance(by: .seconds(10))
        #expect(await events.next() == .ended(0))
        #expect(await events.next() == .started(1, service: "greeter"))
        backend.fail(1, refusal)
        #expect(await sleeps.next() == .seconds(10))
        #expect(logs.count(.error) == 1, "one error per streak of refusals")
        #expect(logs.count(.warning) == 0)
        // The token is fixed: the list arrives, and subscribers hear of it.
        clock.advance(by: .seconds(10))
        _ = await events.next()
        _ = await events.next()
        backend.send([a], on: 2)
        // The second refusal's update comes first; then the list.
        guard case .failed? = await updates.next(), case .nodes(let nodes)? = await updates.next(), nodes == [a] else {
            Issue.record("the list after the refusal did not arrive")
            return
        }
    }

    @Test func backoffGrowsWithTheSquareOfFailuresUpToTheCap() async {
        let directory = ServiceDirectory(discovery: DiscoveryDouble(), clock: TestClock())
        #expect(await directory.retryDelay(afterFailures: 1) == .milliseconds(100))
        #expect(await directory.retryDelay(afterFailures: 3) == .milliseconds(900))
        #expect(await directory.retryDelay(afterFailures: 10) == .seconds(10))
        #expect(await directory.retryDelay(afterFailures: 11) == .seconds(10))
        #expect(await directory.retryDelay(afterFailures: Int.max) == .seconds(10))
    }

    @Test func theWatchStopsWhenTheLastSubscriberGoesAway() async throws {
        let backend = DiscoveryDouble()
        let directory = ServiceDirectory(discovery: backend)
        var events = backend.events.makeAsyncIterator()
        let first = await directory.nodes(for: "greeter")
        let second = await directory.nodes(for: "greeter")
        _ = await events.next()
        let (received, receivedContinuation) = AsyncStream<Int>.makeStream()
        let consumers = [first, second].enumerated().map { index, stream in
            Task {
                for await _ in stream { receivedContinuation.yield(index) }
            }
        }
        backend.send([a], on: 0)
        var receipts = received.makeAsyncIterator()
        _ = await receipts.next()
        _ = await receipts.next()

        consumers[0].cancel()
        backend.send([a, b], on: 0)
        // The cancelled subscriber may still take a list it had buffered; the other must get it.
        var remainingGotIt = false
        for _ in 0..<2 where !remainingGotIt {
            remainingGotIt = await receipts.next() == 1
        }
        #expect(remainingGotIt, "the remaining subscriber still gets changes")

        consumers[1].cancel()
        #expect(await events.next() == .ended(0))
        #expect(await directory.activeWatchCount == 0)
        #expect(await directory.currentNodes(for: "greeter") == [a, b], "the last list is kept")

        // A new subscriber gets the last list at once and a fresh watch.
        var again = await directory.nodes(for: "greeter").makeAsyncIterator()
        #expect(await again.next() == [a, b])
        #expect(await events.next() == .started(1, service: "greeter"))
        #expect(backend.watchCalls == 2)
    }

    @Test func listsFromAStoppedWatchAreIgnored() async throws {
        let backend = DiscoveryDouble(endsWhenCancelled: false)
        let directory = ServiceDirectory(discovery: backend)
        var events = backend.events.makeAsyncIterator()
        let consumer = Task { for await _ in await directory.nodes(for: "greeter") {} }
        _ = await events.next()
        consumer.cancel()
        // The backend's stream ends when the directory cancels its watch.
        #expect(await events.next() == .ended(0))
        var nodes = await directory.nodes(for: "greeter").makeAsyncIterator()
        #expect(await events.next() == .started(1, service: "greeter"))
        backend.send([b], on: 0)
        backend.send([a], on: 1)
        #expect(await nodes.next() == [a])
        #expect(await directory.currentNodes(for: "greeter") == [a])
    }

    @Test func shutdownEndsEverySubscriberAndEveryWatch() async throws {
        let backend = DiscoveryDouble()
        let directory = ServiceDirectory(discovery: backend)
        var events = backend.events.makeAsyncIterator()
        var nodes = await directory.nodes(for: "greeter").makeAsyncIterator()
        _ = await events.next()
        backend.send([a], on: 0)
        #expect(await nodes.next() == [a])

        await directory.shutdown()
        #expect(await nodes.next() == nil)
        #expect(await events.next() == .ended(0))
        var later = await directory.nodes(for: "greeter").makeAsyncIterator()
        #expect(await later.next() == nil)
        #expect(await directory.currentNodes(for: "greeter") == [a])
    }

    @Test func worksWithLocalDiscoveryEndToEnd() async throws {
        let local = LocalDiscovery()
        let directory = ServiceDirectory(discovery: local)
        var nodes = await directory.nodes(for: "greeter").makeAsyncIterator()
        #expect(await nodes.next() == [])
        try await local.register(a)
        #expect(await nodes.next() == [a])
        try await local.deregister(a)
        #expect(await nodes.next() == [])
    }
}

// MARK: - Test doubles (internal so other discovery tests can use them; names
// prefixed so they cannot clash with other suites' helpers)

/// A Discovery whose watches the test drives by hand; it reports every
/// watch's start and end as an event.
final class DiscoveryDouble: Discovery {
    enum Event: Equatable, Sendable {
        case started(Int, service: String)
        case ended(Int)
    }

    private typealias Continuation = AsyncThrowingStream<[ServiceInstance], any Error>.Continuation
    private struct State {
        var watches: [Int: Continuation] = [:]
        var calls = 0
    }

    let events: AsyncStream<Event>
    private let eventSink: AsyncStream<Event>.Continuation
    private let state = Mutex(State())
    private let endsWhenCancelled: Bool

    /// `endsWhenCancelled: false` keeps a watch's continuation after its
    /// consumer left, to play a backend that answers late.
    init(endsWhenCancelled: Bool = true) {
        (events, eventSink) = AsyncStream<Event>.makeStream()
        self.endsWhenCancelled = endsWhenCancelled
    }

    var watchCalls: Int { state.withLock { $0.calls } }

    func register(_ instance: ServiceInstance) async throws {}
    func deregister(_ instance: ServiceInstance) async throws {}

    func watch(service: String) -> AsyncThrowingStream<[ServiceInstance], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[ServiceInstance], any Error>.makeStream()
        let number = state.withLock { state in
            let number = state.calls
            state.calls += 1
            state.watches[number] = continuation
            return number
        }
        continuation.onTermination = { [weak self] _ in self?.ended(number) }
        eventSink.yield(.started(number, service: service))
        return stream
    }

    private func ended(_ number: Int) {
        if endsWhenCancelled {
            _ = state.withLock { $0.watches.removeValue(forKey: number) }
        }
        eventSink.yield(.ended(number))
    }

    func send(_ nodes: [ServiceInstance], on watch: Int) {
        _ = state.withLock { $0.watches[watch] }?.yield(nodes)
    }

    func fail(_ watch: Int, _ error: any Error) {
        state.withLock { $0.watches[watch] }?.finish(throwing: error)
    }

    func finish(_ watch: Int) {
        state.withLock { $0.watches[watch] }?.finish()
    }
}
