import Cort
import CortConsul
import CortTesting
import Foundation
import Logging
import ReliabilityServices
import Synchronization

/// Node processes hosting the ledger, and a caller system in this process
/// that finds them through a `StaticDiscovery` of their endpoints.
final class NodeCluster: Sendable {
    /// The heartbeat the process tests use unless one says otherwise: a
    /// node silent for 300 ms is dead.
    static let heartbeat = HeartbeatConfiguration(interval: .milliseconds(100), liveness: 3)

    /// Where the nodes' logs and standard errors are.
    let folder: URL
    let caller: CortSystem
    let ledger: Ledger
    /// Every node started, restarts included, in order.
    private let started: Mutex<[NodeProcess]>
    private let closed = Atomic(false)

    /// The Consul agent the nodes register in, if any.
    let consul: String?

    private init(folder: URL, nodes: [NodeProcess], caller: CortSystem, consul: String?) throws {
        self.consul = consul
        self.folder = folder
        self.caller = caller
        self.started = Mutex(nodes)
        ledger = try Ledger.resolve(id: .service(Ledger.serviceName), using: caller)
    }

    /// Starts `delays.count` nodes (`node-0`, `node-1`, ...; node i takes
    /// `delays[i]` milliseconds per call, and runs in `namespaces[i]` when
    /// that is given, else on loopback) and a caller, runs `body`, then
    /// stops the caller and kills every node, whether `body` threw or not.
    static func with<R>(
        delays: [Int] = [0, 0, 0],
        namespaces: [NetworkNamespace?] = [],
        defaultTimeout: Duration = .seconds(5),
        heartbeat: HeartbeatConfiguration = NodeCluster.heartbeat,
        callLimits: CallLimits = CallLimits(),
        consul: ConsulAgentDouble? = nil,
        _ body: (NodeCluster) async throws -> R
    ) async throws -> R {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("cort-process-tests-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var nodes: [NodeProcess] = []
        var cluster: NodeCluster?
        do {
            for (index, delay) in delays.enumerated() {
                nodes.append(try await NodeProcess.start(
                    name: "node-\(index)", in: folder, delayMilliseconds: delay, consul: consul?.address,
                    namespace: index < namespaces.count ? namespaces[index] : nil))
            }
            var logger = Logger(label: "cort-process-tests")
            logger.logLevel = .error
            let discovery: any Discovery
            if let consul {
                // Nodes and caller find each other through the Consul agent double.
                var watch = HealthWatch.Configuration()
                watch.backoffBase = .milliseconds(50)
                watch.backoffCap = .milliseconds(500)
                discovery = try ConsulDiscovery(configuration: .init(
                    consul: try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_ADDR": consul.address]),
                    watch: watch, logger: logger))
            } else {
                discovery = try StaticDiscovery([Ledger.serviceName: nodes.map(\.endpoint)])
            }
            let caller = try CortSystem.start(.init(
                name: "caller", discovery: discovery, defaultTimeout: defaultTimeout, logger: logger,
                heartbeat: heartbeat, callLimits: callLimits))
            let made = try NodeCluster(folder: folder, nodes: nodes, caller: caller, consul: consul?.address)
            cluster = made
            let result = try await body(made)
            await made.close()
            try? FileManager.default.removeItem(at: folder)
            return result
        } catch {
            if let cluster {
                await cluster.close()
            } else {
                for node in nodes { await node.stop() }
            }
            for node in cluster?.nodes ?? nodes {
                print("\(node.name) (\(node.exit.value?.description ?? "running")) standard error:\n\(node.errorTail())")
            }
            print("the nodes' files are kept in \(folder.path)")
            throw error
        }
    }

    /// Every node started so far, restarts included.
    var nodes: [NodeProcess] { started.withLock { $0 } }

    /// The node named `name`.
    func node(_ name: String) -> NodeProcess {
        nodes.first { $0.name == name }!
    }

    /// Starts a new node process on the endpoint of `old` (which must be
    /// gone), in its network namespace, named `name`.
    func restart(_ old: NodeProcess, as name: String) async throws -> NodeProcess {
        let node = try await NodeProcess.start(name: name, in: folder, endpoint: old.endpoint, namespace: old.namespace)
        started.withLock { $0.append(node) }
        return node
    }

    /// Starts one more node process, named `name` (in Consul too, when the cluster uses it).
    func start(_ name: String) async throws -> NodeProcess {
        let node = try await NodeProcess.start(name: name, in: folder, consul: consul)
        started.withLock { $0.append(node) }
        return node
    }

    /// Every execution every node recorded, restarts included. Read it after
    /// ``close()`` (or once the nodes that matter are gone), when no node
    /// writes any more.
    func executions() throws -> [ExecutionLog.Entry] {
        try nodes.flatMap { try ExecutionLog.entries(atPath: $0.logPath) }
    }

    /// Stops the caller, then kills and reaps every node. Idempotent.
    func close() async {
        guard !closed.exchange(true, ordering: .relaxed) else { return }
        await caller.shutdown()
        for node in nodes { await node.stop() }
    }
}
