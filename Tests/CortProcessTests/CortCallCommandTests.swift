@testable import Cort
import CortZeroMQ
import Distributed
import Foundation
import ReliabilityServices
import Subprocess
import Testing

/// A service for `cort call`: parameters JSON must be turned into (a
/// struct, a Double, an optional), a `Void` method, and what the call
/// context carried.
distributed actor Inspector {
    typealias ActorSystem = CortSystem

    struct Point: Codable, Sendable, Equatable {
        var x: Double
        var y: Double
    }

    /// What the node saw of the call.
    struct Seen: Codable, Sendable {
        var metadata: [String: String]
        var millisecondsLeft: Int
    }

    distributed func scale(_ point: Point, by factor: Double, label: String?) -> [String: Point] {
        [label ?? "unlabeled": Point(x: point.x * factor, y: point.y * factor)]
    }

    distributed func context() -> Seen {
        let context = CallContext.current
        let left = context?.timeRemaining ?? .zero
        return Seen(metadata: context?.metadata ?? [:],
                    millisecondsLeft: Int(left.components.seconds) * 1000
                        + Int(left.components.attoseconds / 1_000_000_000_000_000))
    }

    distributed func nothing() {}
}

/// `cort describe`, `cort call` and `cort bench`, run as the built `cort`
/// executable against nodes this process hosts.
@Suite(.timeLimit(.minutes(2))) struct CortCallCommandTests {
    private func cort(_ arguments: [String], environment: [String: String]) async throws -> CortTool.Run {
        try await CortTool.run(arguments, only: environment)
    }

    private static let ok = ChildProcess.Exit(status: 0, signalled: false)
    private static let failure = ChildProcess.Exit(status: 1, signalled: false)

    /// A node on 127.0.0.1 hosting `ledger` (recording into `log`) and
    /// `inspector`, with `security` and the access rules given; shut down after `body`.
    private func withNode<R>(
        log: ExecutionLog? = nil, security: Security = .plaintext,
        ledgerAccess: ServiceAccess = .anyAllowedCaller,
        _ body: (CortSystem) async throws -> R
    ) async throws -> R {
        let node = try CortSystem.start(.init(name: "cort-call", discovery: LocalDiscovery(),
                                              endpoint: "tcp://127.0.0.1:0", security: security))
        do {
            try await node.host(Ledger.serviceName, replicas: 2, access: ledgerAccess) { system in
                Ledger(actorSystem: system, node: "cort-call", log: log)
            }
            try await node.host("inspector", replicas: 1) { Inspector(actorSystem: $0) }
            let result = try await body(node)
            await node.shutdown()
            return result
        } catch {
            await node.shutdown()
            throw error
        }
    }

    /// `cort describe --json`.
    struct Described: Decodable {
        struct Service: Decodable {
            var name: String
            var type: String
            var methods: [Method]
        }

        struct Method: Decodable, Equatable {
            var name: String
            var signature: String
            var target: String
            var idempotent: Bool
        }

        var node: String
        var instance: String
        var services: [Service]
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ run: CortTool.Run) throws -> T {
        try JSONDecoder().decode(type, from: Data(run.output.utf8))
    }

    @Test("describe lists each hosted service's type and methods, with readable declarations, by service and by endpoint")
    func describe() async throws {
        try await withNode { node in
            let endpoint = try #require(node.endpoint)
            let environment = ["CORT_STATIC_SERVICES": "ledger=\(endpoint);inspector=\(endpoint)"]

            let run = try await cort(["describe", "ledger", "--json"], environment: environment)
            #expect(run.exit == Self.ok, "\(run.exit): \(run.errors)")
            let described = try Self.decode(Described.self, run)
            #expect(described.node == endpoint)
            #expect(described.services.map(\.name) == ["inspector", "ledger"])
            let ledger = try #require(described.services.first { $0.name == "ledger" })
            #expect(ledger.type == "ReliabilityServices.Ledger")
            #expect(ledger.methods.map(\.name) == ["Ledger.append(key:)", "Ledger.read(key:)"])
            #expect(ledger.methods.map(\.signature) == ["append(key: String) async throws -> LedgerReceipt",
                                                       "read(key: String) async throws -> LedgerReceipt"])
            #expect(ledger.methods.map(\.idempotent) == [false, true])
            for method in ledger.methods {
                // The target is what a typed call sends: the node's own reading gives the same name back.
                #expect(readableMethodName(fromMangled: method.target) == method.name)
            }
            let inspector = try #require(described.services.first { $0.name == "inspector" })
            #expect(inspector.type == "CortProcessTests.Inspector")
            #expect(inspector.methods.map(\.name)
                    == ["Inspector.context()", "Inspector.nothing()", "Inspector.scale(_:by:label:)"])
            #expect(inspector.methods.last?.signature
                    == "scale(_: Point, by: Double, label: String?) async throws -> [String: Point]")

            let byEndpoint = try await cort(["describe", endpoint], environment: [:])
            #expect(byEndpoint.exit == Self.ok, "\(byEndpoint.exit): \(byEndpoint.errors)")
            let lines = byEndpoint.output.split(separator: "\n").map(String.init)
            #expect(lines.first == "node \(endpoint) (direct@\(endpoint))", "\(byEndpoint.output)")
            #expect(lines.contains("service ledger: ReliabilityServices.Ledger"), "\(byEndpoint.output)")
            #expect(lines.contains { $0.hasPrefix("  Ledger.read(key:)") && $0.contains("read(key: String)")
                && $0.hasSuffix("[idempotent]") }, "\(byEndpoint.output)")
        }
        let silent = try await cort(["describe", "tcp://127.0.0.1:1", "--timeout", "300ms"], environment: [:])
        #expect(silent.exit == Self.failure, "\(silent.exit)")
        #expect(silent.errors.contains("no node could be described: tcp://127.0.0.1:1: no answer"), "\(silent.errors)")
    }

    @Test("call turns JSON arguments into the method's parameters and prints the result as JSON; the method runs once")
    func call() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cort-call-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let logPath = directory.appendingPathComponent("ledger.log").path
        let log = try ExecutionLog(path: logPath)
        try await withNode(log: log) { node in
            let endpoint = try #require(node.endpoint)
            let environment = ["CORT_STATIC_SERVICES": "ledger=\(endpoint);inspector=\(endpoint)"]

            let append = try await cort(["call", "ledger", "Ledger.append(key:)", #"["a-17"]"#, "--json"],
                                        environment: environment)
            #expect(append.exit == Self.ok, "\(append.exit): \(append.errors)")
            #expect(append.output == #"{"key":"a-17","node":"cort-call"}"# + "\n")
            #expect(try ExecutionLog.entries(atPath: logPath) == [ExecutionLog.Entry(method: "append", key: "a-17")])

            // Without the type, and pretty-printed without --json.
            let read = try await cort(["call", "ledger", "read(key:)", #"["b"]"#], environment: environment)
            #expect(read.exit == Self.ok, "\(read.exit): \(read.errors)")
            #expect(try JSONDecoder().decode(LedgerReceipt.self, from: Data(read.output.utf8))
                    == LedgerReceipt(node: "cort-call", key: "b"))
            #expect(read.output.contains("\n  "), "\(read.output)")

            // An object for a struct, an integer for a Double, null for an optional.
            let scaled = try await cort(["call", "inspector", "scale", #"[{"x": 1.5, "y": -2}, 2, null]"#, "--json"],
                                        environment: environment)
            #expect(scaled.exit == Self.ok, "\(scaled.exit): \(scaled.errors)")
            #expect(scaled.output == #"{"unlabeled":{"x":3,"y":-4}}"# + "\n")

            let nothing = try await cort(["call", "inspector", "nothing"], environment: environment)
            #expect(nothing.exit == Self.ok, "\(nothing.exit): \(nothing.errors)")
            #expect(nothing.output == "null\n")

            // --metadata reaches the method's call context, and --timeout its deadline.
            let seen = try await cort(["call", "inspector", "context()", "[]", "--json", "--timeout", "3s",
                                       "--metadata", "tenant=acme", "--metadata", "query=a=b"],
                                      environment: environment)
            #expect(seen.exit == Self.ok, "\(seen.exit): \(seen.errors)")
            let context = try JSONDecoder().decode(Inspector.Seen.self, from: Data(seen.output.utf8))
            #expect(context.metadata["tenant"] == "acme" && context.metadata["query"] == "a=b", "\(context.metadata)")
            #expect(context.millisecondsLeft > 0 && context.millisecondsLeft <= 3000, "\(context.millisecondsLeft)")
        }
    }

    @Test("arguments that do not fit the parameters get badArguments and nothing runs; bad ARGS and unknown methods are clear errors")
    func badArguments() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cort-call-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let logPath = directory.appendingPathComponent("ledger.log").path
        try await withNode(log: try ExecutionLog(path: logPath)) { node in
            let endpoint = try #require(node.endpoint)
            let environment = ["CORT_STATIC_SERVICES": "ledger=\(endpoint);inspector=\(endpoint)"]

            let wrongType = try await cort(["call", "ledger", "append", "[17]"], environment: environment)
            #expect(wrongType.exit == Self.failure, "\(wrongType.exit)")
            #expect(wrongType.errors.hasPrefix("cort call: badArguments (6): Ledger.append(key:): argument 1 is not a String"),
                    "\(wrongType.errors)")
            let tooMany = try await cort(["call", "ledger", "append", #"["a", "b"]"#, "--json"], environment: environment)
            #expect(tooMany.exit == Self.failure, "\(tooMany.exit)")
            struct Failure: Decodable { struct Body: Decodable { var code: String; var wireCode: Int; var message: String }
                var error: Body }
            let failure = try JSONDecoder().decode(Failure.self, from: Data(tooMany.output.utf8))
            #expect(failure.error.code == "badArguments" && failure.error.wireCode == 6, "\(tooMany.output)")
            #expect(failure.error.message.contains("2"), "\(failure.error.message)")
            let missingField = try await cort(["call", "inspector", "scale", #"[{"x": 1}, 2, "a"]"#], environment: environment)
            #expect(missingField.exit == Self.failure && missingField.errors.contains("badArguments (6)"),
                    "\(missingField.exit): \(missingField.errors)")
            #expect(try ExecutionLog.entries(atPath: logPath).isEmpty)

            let notArray = try await cort(["call", "ledger", "append", #"{"key": "a"}"#], environment: environment)
            #expect(notArray.exit == Self.failure && notArray.errors.contains("ARGS is a JSON array"), "\(notArray.errors)")
            let notJSON = try await cort(["call", "ledger", "append", "[a"], environment: environment)
            #expect(notJSON.exit == Self.failure && notJSON.errors.contains("ARGS is not JSON"), "\(notJSON.errors)")
            let unknown = try await cort(["call", "ledger", "delete(key:)", "[]"], environment: environment)
            #expect(unknown.exit == Self.failure, "\(unknown.exit)")
            #expect(unknown.errors.contains(#"service "ledger" has no method "delete(key:)"; it has Ledger.append(key:), Ledger.read(key:)"#),
                    "\(unknown.errors)")
            let noService = try await cort(["call", "nosuch", "read", "[]"], environment: environment)
            #expect(noService.exit == Self.failure && noService.errors.contains("lists no node of service \"nosuch\""),
                    "\(noService.errors)")
            let badMetadata = try await cort(["call", "ledger", "read", "[]", "--metadata", "novalue"], environment: environment)
            #expect(badMetadata.exit == ChildProcess.Exit(status: 64, signalled: false), "\(badMetadata.exit)")
        }
    }

    @Test("bench calls for the duration with the given concurrency and rate, prints progress each second and a summary by value")
    func bench() async throws {
        try await withNode { node in
            let endpoint = try #require(node.endpoint)
            let environment = ["CORT_STATIC_SERVICES": "ledger=\(endpoint)"]
            // Paced: the suites beside it share two cores (and two CPU hogs, in CI's load test).
            let run = try await cort(["bench", "ledger", "read(key:)", #"["k"]"#, "--concurrency", "4",
                                      "--duration", "2s", "--rate", "200", "--json"], environment: environment)
            #expect(run.exit == Self.ok, "\(run.exit): \(run.errors)")
            struct Summary: Decodable {
                struct Latency: Decodable { var min, mean, p50, p90, p99, max: Int }
                var calls, succeeded, failed: Int
                var seconds, callsPerSecond: Double
                var latencyMicroseconds: Latency
                var errors: [String: Int]
            }
            let summary = try JSONDecoder().decode(Summary.self, from: Data(run.output.utf8))
            #expect(summary.succeeded > 0 && summary.failed == 0 && summary.errors.isEmpty, "\(run.output)")
            // At most the rate's worth (a caller that falls behind catches up, never beyond its pace).
            #expect(summary.succeeded <= 400 + 4, "\(run.output)")
            #expect(summary.calls == summary.succeeded)
            #expect(summary.seconds >= 2 && summary.seconds < 10, "\(summary.seconds)")
            #expect(abs(summary.callsPerSecond - Double(summary.succeeded) / summary.seconds) < 0.01)
            let latency = summary.latencyMicroseconds
            #expect(0 < latency.min && latency.min <= latency.p50 && latency.p50 <= latency.p90
                    && latency.p90 <= latency.p99 && latency.p99 <= latency.max, "\(run.output)")
            #expect(latency.min <= latency.mean && latency.mean <= latency.max)
            #expect(run.errors.contains("[1s/2s] "), "\(run.errors)")

            let text = try await cort(["bench", "ledger", "read", #"["k"]"#, "-c", "2", "-d", "1s", "--rate", "100"],
                                      environment: environment)
            #expect(text.exit == Self.ok, "\(text.exit): \(text.errors)")
            let lines = text.output.split(separator: "\n")
            #expect(lines.count == 3 && lines[0].hasPrefix("calls:") && lines[1].hasPrefix("calls/s:")
                    && lines[2].hasPrefix("latency:   min "), "\(text.output)")

            let failing = try await cort(["bench", "ledger", "read", "[1]", "-c", "2", "-d", "1s", "--rate", "50", "--json"],
                                         environment: environment)
            #expect(failing.exit == Self.failure, "\(failing.exit)")
            let failed = try JSONDecoder().decode([String: AnyDecodable].self, from: Data(failing.output.utf8))
            #expect(failed["succeeded"]?.int == 0 && (failed["failed"]?.int ?? 0) > 0, "\(failing.output)")
            #expect(failing.errors.contains("no call returned (badArguments "), "\(failing.errors)")
            let badRate = try await cort(["bench", "ledger", "read", "[]", "--rate", "0"], environment: environment)
            #expect(badRate.exit == ChildProcess.Exit(status: 64, signalled: false), "\(badRate.exit)")
        }
    }

    @Test("with CURVE: describe and nodes need the caller's key; describe lists only what the caller may call")
    func curve() async throws {
        let nodeKeys = try CurveKeyPair.generate()
        let (billing, stranger) = (try CurveKeyPair.generate(), try CurveKeyPair.generate())
        let security = Security.curve(keyPair: nodeKeys,
                                      allowedCallers: CallerAllowList([billing.publicKey, stranger.publicKey]))
        try await withNode(security: security, ledgerAccess: .callers([billing.publicKey])) { node in
            let endpoint = try #require(node.endpoint)
            let services = "ledger=\(endpoint)|\(nodeKeys.publicKey.z85);inspector=\(endpoint)|\(nodeKeys.publicKey.z85)"

            let asBilling = try await cort(["describe", "inspector", "--json"], environment: [
                "CORT_STATIC_SERVICES": services, "CORT_CURVE_SECRET_KEY": billing.secretKey.z85])
            #expect(asBilling.exit == Self.ok, "\(asBilling.exit): \(asBilling.errors)")
            #expect(try Self.decode(Described.self, asBilling).services.map(\.name) == ["inspector", "ledger"])

            let asStranger = try await cort(["describe", "inspector", "--json"], environment: [
                "CORT_STATIC_SERVICES": services, "CORT_CURVE_SECRET_KEY": stranger.secretKey.z85])
            #expect(asStranger.exit == Self.ok, "\(asStranger.exit): \(asStranger.errors)")
            #expect(try Self.decode(Described.self, asStranger).services.map(\.name) == ["inspector"])
            let refused = try await cort(["call", "ledger", "read", #"["k"]"#], environment: [
                "CORT_STATIC_SERVICES": services, "CORT_CURVE_SECRET_KEY": stranger.secretKey.z85])
            #expect(refused.exit == Self.failure, "\(refused.exit)")
            #expect(refused.errors.contains("does not let this caller call service \"ledger\""), "\(refused.errors)")
            let called = try await cort(["call", "ledger", "read", #"["k"]"#, "--json"], environment: [
                "CORT_STATIC_SERVICES": services, "CORT_CURVE_SECRET_KEY": billing.secretKey.z85])
            #expect(called.output == #"{"key":"k","node":"cort-call"}"# + "\n", "\(called.errors)")

            let nodes = try await cort(["nodes", "ledger", "--json"], environment: [
                "CORT_STATIC_SERVICES": services, "CORT_CURVE_SECRET_KEY": billing.secretKey.z85])
            #expect(nodes.exit == Self.ok, "\(nodes.exit): \(nodes.errors)")
            #expect(nodes.output.contains(#""answered":true"#), "\(nodes.output)")

            // Without a key, a CURVE node is not asked at all.
            let plaintext = try await cort(["describe", "ledger"], environment: ["CORT_STATIC_SERVICES": services])
            #expect(plaintext.exit == Self.failure, "\(plaintext.exit)")
            #expect(plaintext.errors.contains("the node requires CURVE"), "\(plaintext.errors)")
            // A key the node does not allow: no answer.
            let outsider = try CurveKeyPair.generate()
            let shut = try await cort(["describe", "ledger", "--timeout", "500ms"], environment: [
                "CORT_STATIC_SERVICES": services, "CORT_CURVE_SECRET_KEY": outsider.secretKey.z85])
            #expect(shut.exit == Self.failure && shut.errors.contains("no answer"), "\(shut.errors)")
        }
    }

    @Test("--help of describe, call and bench documents arguments and exit codes")
    func help() async throws {
        for (command, words) in [("describe", ["--json", "--timeout", "Exit codes", "64", "|KEY"]),
                                 ("call", ["--timeout", "--metadata", "badArguments", "Exit codes", "64", "--json"]),
                                 ("bench", ["--concurrency", "--duration", "--rate", "p99", "Exit codes", "64", "--json"])] {
            let run = try await cort([command, "--help"], environment: [:])
            #expect(run.exit == Self.ok, "\(run.exit): \(run.errors)")
            for word in words {
                #expect(run.output.contains(word), "\(word) is not in the help of \(command):\n\(run.output)")
            }
        }
    }
}

/// A JSON value read only for its integer, if it is one.
private struct AnyDecodable: Decodable {
    var int: Int?
    init(from decoder: any Decoder) throws {
        int = try? decoder.singleValueContainer().decode(Int.self)
    }
}
