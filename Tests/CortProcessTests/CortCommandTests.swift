@testable import Cort
import CortConsul
import CortTesting
import CortZeroMQ
import Foundation
import ReliabilityServices
import Subprocess
import Testing

/// `cort services` and `cort nodes`, run as the built `cort` executable
/// against nodes this process hosts.
@Suite(.timeLimit(.minutes(1))) struct CortCommandTests {
    /// What a run of `cort` left.
    typealias Run = CortTool.Run

    /// One node of `cort nodes --json`.
    struct NodeLine: Decodable, Equatable {
        var endpoint: String
        var instance: String
        var discovery: String
        var answered: Bool
        var roundTripMicroseconds: Int?
        var freeSlots: UInt32?
        var incarnation: String?
        var draining: Bool
        var error: String?
    }

    /// One service of `cort services --json`.
    struct ServiceLine: Decodable, Equatable {
        var service: String
        var nodes: Int
    }

    private func cort(_ arguments: [String], environment: [String: String]) async throws -> CortTool.Run {
        try await CortTool.run(arguments, only: environment)
    }

    private static let ok = ChildProcess.Exit(status: 0, signalled: false)
    private static let failure = ChildProcess.Exit(status: 1, signalled: false)

    /// Two nodes on 127.0.0.1 hosting `service`, registered in `discovery`
    /// (which `cort`, another process, may not see); shut down after `body`.
    private func withNodes<R>(
        _ service: String, discovery: any Discovery,
        _ body: ([CortSystem]) async throws -> R
    ) async throws -> R {
        var nodes: [CortSystem] = []
        do {
            for index in 0..<2 {
                let node = try CortSystem.start(.init(name: "cort-command-\(index)", discovery: discovery,
                                                      endpoint: "tcp://127.0.0.1:0"))
                nodes.append(node)
                try await node.host(service, replicas: 2) { system in
                    Ledger(actorSystem: system, node: "cort-command-\(index)", log: nil)
                }
            }
            let result = try await body(nodes)
            for node in nodes { await node.shutdown() }
            return result
        } catch {
            for node in nodes { await node.shutdown() }
            throw error
        }
    }

    /// Returns once `discovery` lists `count` instances of `service`; an
    /// issue is recorded if it does not within 30 s.
    private func waitUntilListed(_ count: Int, _ service: String, in discovery: some Discovery) async throws {
        let listed = try await withDeadline(.seconds(30)) {
            for try await instances in discovery.watch(service: service) where instances.count >= count {
                return true
            }
            return false
        }
        #expect(listed == true, "discovery did not list \(count) instances of \(service) within 30 s")
    }

    /// The nodes' endpoints and incarnations (16 hex digits), by endpoint.
    private func incarnations(_ nodes: [CortSystem]) async throws -> [String: String] {
        var result: [String: String] = [:]
        for node in nodes {
            let endpoint = try #require(node.endpoint)
            let incarnation = try await node.nodeServer().incarnation
            let digits = String(incarnation, radix: 16)
            result[endpoint] = String(repeating: "0", count: 16 - digits.count) + digits
        }
        return result
    }

    /// A TCP port on 127.0.0.1 where nothing listens (bound, then closed).
    private func silentEndpoint() throws -> String {
        let socket = try ZeroMQSocket(.router, context: ZeroMQContext())
        let endpoint = try socket.bind("tcp://127.0.0.1:0")
        try socket.unbind(endpoint)
        return endpoint
    }

    @Test("with CORT_STATIC_SERVICES: services lists the service with 2 nodes, nodes pings both, a silent third shows no answer and exits 1")
    func staticDiscovery() async throws {
        try await withNodes("cmdsvc", discovery: LocalDiscovery()) { nodes in
            let expected = try await incarnations(nodes)
            let endpoints = expected.keys.sorted()
            let environment = ["CORT_STATIC_SERVICES": "cmdsvc=\(endpoints.joined(separator: ","));other=tcp://127.0.0.1:1"]

            let services = try await cort(["services", "--json"], environment: environment)
            #expect(services.exit == Self.ok, "\(services.exit): \(services.errors)")
            let listed = try JSONDecoder().decode([ServiceLine].self, from: Data(services.output.utf8))
            #expect(listed == [ServiceLine(service: "cmdsvc", nodes: 2), ServiceLine(service: "other", nodes: 1)])

            let table = try await cort(["services"], environment: environment)
            #expect(table.exit == Self.ok, "\(table.exit): \(table.errors)")
            let rows = table.output.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            #expect(rows == [["SERVICE", "NODES"], ["cmdsvc", "2"], ["other", "1"]], "\(table.output)")

            let run = try await cort(["nodes", "cmdsvc", "--json"], environment: environment)
            #expect(run.exit == Self.ok, "\(run.exit): \(run.errors)")
            let lines = try JSONDecoder().decode([NodeLine].self, from: Data(run.output.utf8))
            #expect(lines.map(\.endpoint).sorted() == endpoints)
            for line in lines {
                #expect(line.answered && !line.draining && line.error == nil, "\(line)")
                #expect(line.instance == "cmdsvc@\(line.endpoint)")
                #expect(line.discovery == "static")
                #expect((line.roundTripMicroseconds ?? 0) > 0, "\(line)")
                #expect((line.freeSlots ?? 0) > 0, "\(line)")
                #expect(line.incarnation == expected[line.endpoint], "\(line)")
            }

            let readable = try await cort(["nodes", "cmdsvc"], environment: environment)
            #expect(readable.exit == Self.ok, "\(readable.exit): \(readable.errors)")
            let header = readable.output.split(separator: "\n").first.map(String.init) ?? ""
            for column in ["ENDPOINT", "INSTANCE", "ROUND TRIP", "FREE SLOTS", "INCARNATION", "DISCOVERY"] {
                #expect(header.contains(column), "\(readable.output)")
            }
            for (endpoint, incarnation) in expected {
                #expect(readable.output.split(separator: "\n").contains { $0.hasPrefix(endpoint) && $0.contains(incarnation) },
                        "\(readable.output)")
            }

            // A third endpoint where nothing listens.
            let silent = try silentEndpoint()
            let withSilent = ["CORT_STATIC_SERVICES": "cmdsvc=\((endpoints + [silent]).joined(separator: ","))"]
            let partial = try await cort(["nodes", "cmdsvc", "--json", "--timeout", "500ms"], environment: withSilent)
            #expect(partial.exit == Self.failure, "\(partial.exit): \(partial.errors)")
            #expect(partial.errors.contains("1 of 3 nodes did not answer"), "\(partial.errors)")
            let partialLines = try JSONDecoder().decode([NodeLine].self, from: Data(partial.output.utf8))
            #expect(partialLines.count == 3)
            let silentLine = try #require(partialLines.first { $0.endpoint == silent })
            #expect(!silentLine.answered && silentLine.roundTripMicroseconds == nil && silentLine.freeSlots == nil
                    && silentLine.incarnation == nil, "\(silentLine)")
            #expect(partialLines.filter(\.answered).count == 2)

            let partialTable = try await cort(["nodes", "cmdsvc", "--timeout", "500ms"], environment: withSilent)
            #expect(partialTable.exit == Self.failure, "\(partialTable.exit)")
            #expect(partialTable.output.split(separator: "\n").contains { $0.hasPrefix(silent) && $0.contains("no answer") },
                    "\(partialTable.output)")
        }
    }

    @Test("a service discovery does not list: nodes exits 1 and says so; a bad CORT_DISCOVERY exits 1")
    func unknownServiceAndBadDiscovery() async throws {
        let unknown = try await cort(["nodes", "nosuch", "--json"], environment: ["CORT_STATIC_SERVICES": "a=tcp://127.0.0.1:1"])
        #expect(unknown.exit == Self.failure, "\(unknown.exit)")
        #expect(unknown.output.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        #expect(unknown.errors.contains("lists no node of service \"nosuch\""), "\(unknown.errors)")

        let bad = try await cort(["services"], environment: ["CORT_DISCOVERY": "carrier-pigeon"])
        #expect(bad.exit == Self.failure, "\(bad.exit)")
        #expect(bad.errors.contains("CORT_DISCOVERY=carrier-pigeon"), "\(bad.errors)")
    }

    @Test("--help of services and nodes documents the exit codes; a bad --timeout is a usage error")
    func help() async throws {
        for command in ["services", "nodes"] {
            let run = try await cort([command, "--help"], environment: [:])
            #expect(run.exit == Self.ok, "\(run.exit): \(run.errors)")
            for word in ["--json", "--timeout", "Exit codes", "64", "CORT_STATIC_SERVICES", "CONSUL_HTTP_ADDR"] {
                #expect(run.output.contains(word), "\(word) is not in\n\(run.output)")
            }
        }
        let top = try await cort(["--help"], environment: [:])
        #expect(top.output.contains("services") && top.output.contains("nodes"), "\(top.output)")
        let usage = try await cort(["nodes", "svc", "--timeout", "soon"], environment: [:])
        #expect(usage.exit == ChildProcess.Exit(status: 64, signalled: false), "\(usage.exit)")
    }

    @Test("with CONSUL_HTTP_ADDR: services and nodes see the nodes Consul lists as passing")
    func consulDiscovery() async throws {
        let agent = try await ConsulAgentDouble.start()
        do {
            let discovery = try ConsulDiscovery.fromEnvironment(["CONSUL_HTTP_ADDR": agent.address])
            try await withNodes("cmdsvc", discovery: discovery) { nodes in
                // A node's register() may return before Consul has its
                // registration (it waits 2 s for the first answer, then goes
                // on in the background): seen beside two CPU hogs.
                try await waitUntilListed(2, "cmdsvc", in: discovery)
                let expected = try await incarnations(nodes)
                let environment = ["CONSUL_HTTP_ADDR": agent.address]

                let services = try await cort(["services", "--json"], environment: environment)
                #expect(services.exit == Self.ok, "\(services.exit): \(services.errors)")
                let listed = try JSONDecoder().decode([ServiceLine].self, from: Data(services.output.utf8))
                #expect(listed == [ServiceLine(service: "cmdsvc", nodes: 2)])

                let run = try await cort(["nodes", "cmdsvc", "--json"], environment: environment)
                #expect(run.exit == Self.ok, "\(run.exit): \(run.errors)")
                let lines = try JSONDecoder().decode([NodeLine].self, from: Data(run.output.utf8))
                #expect(Set(lines.map(\.endpoint)) == Set(expected.keys))
                for line in lines {
                    #expect(line.answered && line.discovery == "passing", "\(line)")
                    #expect((line.roundTripMicroseconds ?? 0) > 0 && (line.freeSlots ?? 0) > 0, "\(line)")
                    #expect(line.incarnation == expected[line.endpoint], "\(line)")
                }
            }
            discovery.shutdown()
        } catch {
            await agent.stop()
            throw error
        }
        await agent.stop()
    }
}
