import Cort
import Foundation
import Logging
import Synchronization

/// Several `cort-bench-node` processes hosting ``Echo``, and a caller system
/// in this process that finds them through a ``LocalDiscovery`` of its own,
/// so that a node can be killed and a replacement (on a new port) announced
/// the way a discovery backend would.
///
/// ```swift
/// let cluster = try await EchoCluster.start(nodes: 3, heartbeat: HeartbeatConfiguration(interval: .milliseconds(100)))
/// let victim = cluster.nodes[0]
/// victim.signal(SIGKILL)
/// let replacement = try await cluster.replace(victim)
/// try await cluster.waitUntilServing(replacement)
/// await cluster.stop()
/// ```
public final class EchoCluster: Sendable {
    /// The caller system.
    public let system: CortSystem
    /// The echo service, as the caller sees it.
    public let echo: Echo
    private let discovery: LocalDiscovery
    private let executable: URL
    private let members: Mutex<[Member]>
    private let started = Atomic<Int>(0)

    private struct Member: Sendable {
        var process: ServerProcess
        var instance: ServiceInstance
    }

    private init(system: CortSystem, discovery: LocalDiscovery, executable: URL) throws {
        self.system = system
        self.discovery = discovery
        self.executable = executable
        self.members = Mutex([])
        echo = try Echo.resolve(id: .service(Echo.serviceName), using: system)
    }

    /// Starts `nodes` node processes and a caller that watches them with
    /// `heartbeat`, and returns once every node has answered a call.
    public static func start(
        nodes: Int, heartbeat: HeartbeatConfiguration, defaultTimeout: Duration = .seconds(5)
    ) async throws -> EchoCluster {
        let discovery = LocalDiscovery()
        // Errors only: the harness parses this process's output.
        var logger = Logger(label: "cort-bench-caller")
        logger.logLevel = .error
        let system = try CortSystem.start(.init(
            name: "bench-caller", discovery: discovery, defaultTimeout: defaultTimeout, logger: logger,
            heartbeat: heartbeat))
        do {
            let cluster = try EchoCluster(
                system: system, discovery: discovery, executable: ServerProcess.executable(named: "cort-bench-node"))
            do {
                for _ in 0..<nodes {
                    try await cluster.waitUntilServing(cluster.add())
                }
                return cluster
            } catch {
                await cluster.stop()
                throw error
            }
        } catch {
            await system.shutdown()
            throw error
        }
    }

    /// The nodes in service, oldest first.
    public var nodes: [ServerProcess] {
        members.withLock { $0.map(\.process) }
    }

    /// Starts a node on a port of its own and announces it.
    @discardableResult
    public func add() async throws -> ServerProcess {
        let process = try await ServerProcess.launch(executable: executable)
        let number = started.add(1, ordering: .relaxed).newValue
        let instance = ServiceInstance(service: Echo.serviceName, id: "echo@node-\(number)", endpoint: process.endpoint)
        do {
            try await discovery.register(instance)
        } catch {
            await process.terminate()
            throw error
        }
        members.withLock { $0.append(Member(process: process, instance: instance)) }
        return process
    }

    /// Starts a replacement for `old` (killed or frozen), announces it,
    /// withdraws `old` the way a failing health check would, and reaps `old`.
    public func replace(_ old: ServerProcess) async throws -> ServerProcess {
        let replacement = try await add()
        try await remove(old)
        return replacement
    }

    /// Withdraws `node` from discovery the way a node that drains would, but
    /// leaves it running: the caller stops sending it calls, and those in
    /// flight on it end normally. ``announce(_:)`` brings it back.
    public func withdraw(_ node: ServerProcess) async throws {
        guard let instance = instance(of: node) else { return }
        try await discovery.deregister(instance)
    }

    /// Announces `node` again after ``withdraw(_:)``.
    public func announce(_ node: ServerProcess) async throws {
        guard let instance = instance(of: node) else { return }
        try await discovery.register(instance)
    }

    private func instance(of node: ServerProcess) -> ServiceInstance? {
        members.withLock { $0.first { $0.process === node }?.instance }
    }

    /// Withdraws `old` from discovery and stops it (SIGTERM, or reaps it if it is dead already).
    public func remove(_ old: ServerProcess) async throws {
        let member = members.withLock { members -> Member? in
            guard let index = members.firstIndex(where: { $0.process === old }) else { return nil }
            return members.remove(at: index)
        }
        guard let member else { return }
        try await discovery.deregister(member.instance)
        await old.terminate()
    }

    /// Returns once a call through the service has been answered by `node`
    /// (the caller has connected to it and heard from it), or throws after `timeout`.
    public func waitUntilServing(_ node: ServerProcess, timeout: Duration = .seconds(5)) async throws {
        let deadline = ContinuousClock.now + timeout
        let payload = [UInt8](repeating: 0x5a, count: 8)
        // Bounded: a live node gets a call within a few rounds of the nodes.
        for _ in 0..<1_000_000 where ContinuousClock.now < deadline {
            let reply = try await CallOptions.$current.withValue(CallOptions(idempotent: true)) {
                try await echo.echoNamingNode(payload)
            }
            if reply.node == node.processIdentifier { return }
        }
        throw BenchmarkFailure("node \(node.processIdentifier) at \(node.endpoint) was not called within \(timeout)")
    }

    /// Stops the caller, then every node.
    public func stop() async {
        await system.shutdown()
        for process in members.withLock({ members in
            defer { members.removeAll() }
            return members.map(\.process)
        }) {
            await process.terminate()
        }
    }
}
