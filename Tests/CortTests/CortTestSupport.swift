import Cort
import Distributed
import Foundation
import Synchronization
import Testing

/// Starts `count` node systems and a caller on one LocalDiscovery, on real
/// TCP ports on loopback; shuts them all down at the end.
///
/// The default timeout is long (30 s): a loaded machine may take seconds to
/// run a call, and tests that measure a deadline set their own. With a
/// `clock` of virtual time (a TestClock), pass a `drainGrace` of zero, or
/// the nodes' shutdown waits for the clock to move.
func withNodes<R>(
    _ count: Int,
    defaultTimeout: Duration = .seconds(30),
    queueCapacity: Int = 1024,
    clock: any Clock<Duration> = ContinuousClock(),
    drainGrace: Duration = .milliseconds(250),
    host: (CortSystem, Int) async throws -> Void,
    _ body: ([CortSystem], CortSystem) async throws -> R
) async throws -> R {
    let discovery = LocalDiscovery()
    var nodes: [CortSystem] = []
    let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: defaultTimeout,
                                            clock: clock, drainGrace: drainGrace))
    do {
        for index in 0..<count {
            let node = try CortSystem.start(.init(
                name: "node-\(index)", discovery: discovery, endpoint: "tcp://127.0.0.1:0",
                defaultTimeout: defaultTimeout, queueCapacity: queueCapacity, clock: clock, drainGrace: drainGrace))
            nodes.append(node)
            try await host(node, index)
        }
        let result = try await body(nodes, caller)
        await caller.shutdown()
        for node in nodes { await node.shutdown() }
        return result
    } catch {
        await caller.shutdown()
        for node in nodes { await node.shutdown() }
        throw error
    }
}

/// A node and a caller on one LocalDiscovery, made from the configurations
/// `node` and `caller` give for that discovery, on real TCP ports on
/// loopback; the node hosts what `host` says; both are shut down at the end.
func withNodeAndCaller<R>(
    node: (LocalDiscovery) -> CortSystem.Configuration,
    caller: (LocalDiscovery) -> CortSystem.Configuration,
    host: (CortSystem) async throws -> Void,
    _ body: (CortSystem, CortSystem) async throws -> R
) async throws -> R {
    let discovery = LocalDiscovery()
    let nodeSystem = try CortSystem.start(node(discovery))
    let callerSystem: CortSystem
    do {
        callerSystem = try CortSystem.start(caller(discovery))
    } catch {
        await nodeSystem.shutdown()
        throw error
    }
    do {
        try await host(nodeSystem)
        let result = try await body(nodeSystem, callerSystem)
        await callerSystem.shutdown()
        await nodeSystem.shutdown()
        return result
    } catch {
        await callerSystem.shutdown()
        await nodeSystem.shutdown()
        throw error
    }
}

/// Things that happened inside service methods, keyed by test, so tests can
/// assert what the node saw.
final class Observations: Sendable {
    static let shared = Observations()

    private struct State {
        var events: [String: [String]] = [:]
        var watchers: [String: [AsyncStream<String>.Continuation]] = [:]
    }

    private let state = Mutex(State())

    func record(_ key: String, _ event: String) {
        let watchers = state.withLock { state in
            state.events[key, default: []].append(event)
            return state.watchers[key] ?? []
        }
        for watcher in watchers { watcher.yield(event) }
    }

    func events(_ key: String) -> [String] {
        state.withLock { $0.events[key] ?? [] }
    }

    /// Lets the methods held under `key` (`Ledger.holdUntilReleased`) finish.
    func release(_ key: String) {
        record(Self.releaseKey(key), "released")
    }

    static func releaseKey(_ key: String) -> String { "\(key)#release" }

    /// Waits for an event under `key` that matches `predicate` (one already
    /// recorded counts), at most `timeout` (long: a loaded machine may take
    /// seconds to get there; an event that comes costs no more). Returns
    /// whether it came.
    func waitFor(_ key: String, timeout: Duration = .seconds(30),
                 _ predicate: @escaping @Sendable (String) -> Bool) async -> Bool {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        let past = state.withLock { state in
            state.watchers[key, default: []].append(continuation)
            return state.events[key] ?? []
        }
        for event in past { continuation.yield(event) }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await event in stream where predicate(event) { return true }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            continuation.finish()
            return first
        }
    }
}

/// The end of a thread, for async code to wait for: the thread calls
/// ``finish()`` as it ends, ``wait()`` returns once it has.
final class ThreadEnd: Sendable {
    private let state = Mutex<(finished: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func finish() {
        state.withLock { state in
            state.finished = true
            return state.waiter.take()
        }?.resume()
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state in
                if state.finished { return true }
                state.waiter = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }
}

/// Runs `body`, then shuts `systems` down, whether `body` returned or threw.
func shuttingDown<R>(_ systems: [CortSystem], _ body: () async throws -> R) async throws -> R {
    do {
        let result = try await body()
        for system in systems { await system.shutdown() }
        return result
    } catch {
        for system in systems { await system.shutdown() }
        throw error
    }
}
