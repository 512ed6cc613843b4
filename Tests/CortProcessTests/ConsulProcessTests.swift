import Cort
import CortConsul
import CortTesting
import Foundation
import ReliabilityServices
import Testing

extension ProcessScenarios {
    /// Node processes that register in the Consul agent double, and a caller
    /// that finds them through it (issue 5, "End to end").
    @Suite("Discovery through Consul with real processes")
    struct ConsulProcessTests {
        @Test("kill -9 under load: the node leaves the caller's list through heartbeats first and Consul's TTL later, no idempotent call fails, and a new node gets traffic")
        func killNineThroughConsul() async throws {
            let agent = try await ConsulAgentDouble.start()
            do {
                try await NodeCluster.with(consul: agent) { cluster in
                    try await Self.scenario(cluster, agent: agent)
                }
            } catch {
                await agent.stop()
                throw error
            }
            await agent.stop()
        }

        /// Waits until Consul's passing list of the ledger holds exactly the
        /// instances at `ports`, watching it with blocking queries.
        static func passing(_ agent: ConsulAgentDouble, ports: Set<Int>, within timeout: Duration) async throws -> Bool {
            let client = try ConsulClient(configuration: try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_ADDR": agent.address]))
            defer { client.shutdown() }
            var configuration = HealthWatch.Configuration()
            configuration.wait = .seconds(1)
            let watch = client.healthWatch(service: Ledger.serviceName, configuration: configuration)
            return await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    for await update in watch where Set(update.instances.map(\.port)) == ports { return true }
                    return false
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return false
                }
                let first = await group.next() ?? false
                group.cancelAll()
                return first
            }
        }

        static func port(_ node: NodeProcess) -> Int {
            Int(node.endpoint.split(separator: ":").last ?? "") ?? -1
        }

        static func scenario(_ cluster: NodeCluster, agent: ConsulAgentDouble) async throws {
            let patience = NodeFailureTests.patience
            let victim = cluster.node("node-1")
            let survivors = ["node-0", "node-2"]
            let allPorts = Set(cluster.nodes.map(port))
            #expect(try await passing(agent, ports: allPorts, within: patience), "all three nodes registered and passing")
            #expect(agent.services.allSatisfy { $0.meta["cort_protocol"] == "1" })

            let (times, records) = try await withSteadyLoad(on: cluster.ledger) { load in
                try await warmUp(load, nodes: ["node-0", "node-1", "node-2"])
                let killed = load.now()
                victim.send(SIGKILL)
                try #require(await victim.waitForExit(timeout: patience)?.signalled == true, "node-1 was killed")
                // The caller stops using it first: its connection dropped.
                let before = load.state.value.successes(on: survivors)
                let moved = await load.state.wait(timeout: patience) { state in
                    state.settled(startedBy: killed) && state.successes(on: survivors) >= before + 200
                }
                try #require(moved, "the survivors took the calls")
                let callerMoved = load.now()
                // Consul drops it later, when its TTL check has not been passed in time.
                try #require(try await passing(agent, ports: allPorts.subtracting([port(victim)]), within: patience),
                             "Consul's passing list drops node-1 once its TTL runs out")
                let consulDropped = load.now()
                // A new node registers and gets traffic.
                let newcomer = try await cluster.start("node-3")
                let started = load.now()
                let served = await load.state.wait(timeout: patience) { $0.successes["node-3", default: 0] >= 100 }
                try #require(served, "node-3 (\(newcomer.endpoint)) got calls")
                return (killed: killed, callerMoved: callerMoved, consulDropped: consulDropped,
                        started: started, served: load.now())
            }
            await cluster.close()
            let report = LoadReport(records: records, executions: try cluster.executions())
            Figure.report("consul.kill9.settledAfter", report.settled(after: times.killed))
            Figure.report("consul.kill9.callerMovedAfter", times.callerMoved - times.killed)
            Figure.report("consul.kill9.consulDroppedAfter", times.consulDropped - times.killed)
            Figure.report("consul.newNode.servedAfterStart", times.served - times.started)
            Figure.report("consul.calls", "\(records.count)")
            Figure.report("consul.failed", "\(report.failures.count) (\(report.failureSummary))")
            #expect(times.callerMoved < times.consulDropped, "heartbeats act before Consul's TTL")
            expectHonestFailover(report)
        }
    }
}
