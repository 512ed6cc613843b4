import Cort
import Foundation
import ReliabilityServices
import Testing

extension ProcessScenarios {
    /// A `CortTestNode` process that takes CURVE from its environment, as a
    /// deployed service would (CORT_CURVE_SECRET_KEY_FILE,
    /// CORT_CURVE_ALLOWED_CALLERS_FILE through swift-configuration), and
    /// callers in this process that reach it through `endpoint|key`.
    @Suite("CURVE with a real node process")
    struct CurveProcessTests {
        static let patience = Duration.seconds(20)

        @Test("a node configured for CURVE by its environment serves the allowed key and refuses another at the handshake")
        func curveFromTheEnvironment() async throws {
            let folder = FileManager.default.temporaryDirectory
                .appendingPathComponent("cort-curve-process-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let nodeKeys = try CurveKeyPair.generate()
            let allowed = try CurveKeyPair.generate()
            let stranger = try CurveKeyPair.generate()
            let keyPath = folder.appendingPathComponent("node.key").path
            let allowedPath = folder.appendingPathComponent("allowed-callers").path
            guard FileManager.default.createFile(atPath: keyPath, contents: Data(nodeKeys.secretKeyFileText.utf8),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw ProcessTestFailure("cannot write \(keyPath)")
            }
            try Data("# the one caller this node lets in\n\(allowed.publicKey.z85)\n".utf8)
                .write(to: URL(fileURLWithPath: allowedPath))
            let logPath = folder.appendingPathComponent("curve-node.log").path
            let errorPath = folder.appendingPathComponent("curve-node.stderr").path

            // env(1) sets the variables and execs the node: the child is the node itself.
            let child = try await ChildProcess.start(
                executable: URL(fileURLWithPath: "/usr/bin/env"),
                arguments: ["CORT_CURVE_SECRET_KEY_FILE=\(keyPath)", "CORT_CURVE_ALLOWED_CALLERS_FILE=\(allowedPath)",
                            try NodeProcess.executable().path, "--name", "curve-node", "--log", logPath,
                            "--endpoint", "tcp://127.0.0.1:0", "--replicas", "2", "--curve-from-env"],
                standardError: .file(errorPath))
            var callers: [CortSystem] = []
            func stop() async {
                for caller in callers { await caller.shutdown() }
                child.closeInput()
                child.send(SIGKILL)
                _ = await child.exit.wait(timeout: .seconds(10)) { $0 != nil }
            }
            func errors() -> String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
            do {
                let ready = await child.output.wait(timeout: Self.patience) { output in
                    output.ended || output.lines.contains { $0.hasPrefix("ready ") }
                }
                let endpoint = child.output.value.lines.first { $0.hasPrefix("ready ") }.map { String($0.dropFirst(6)) }
                guard ready, let endpoint else {
                    throw ProcessTestFailure("the node printed no ready line: \(errors())")
                }
                let discovery = try StaticDiscovery([Ledger.serviceName: ["\(endpoint)|\(nodeKeys.publicKey.z85)"]])
                func caller(_ name: String, _ keys: CurveKeyPair) throws -> Ledger {
                    let system = try CortSystem.start(.init(name: name, discovery: discovery, defaultTimeout: .seconds(30),
                                                            security: .curve(keyPair: keys)))
                    callers.append(system)
                    return try Ledger.resolve(id: .service(Ledger.serviceName), using: system)
                }

                let allowedKey = "curve-allowed-\(UUID().uuidString)"
                let receipt = try await caller("allowed", allowed).append(key: allowedKey)
                #expect(receipt == LedgerReceipt(node: "curve-node", key: allowedKey))

                let strangerKey = "curve-stranger-\(UUID().uuidString)"
                let clock = ContinuousClock()
                let before = clock.now
                do {
                    let answer = try await caller("stranger", stranger).append(key: strangerKey)
                    Issue.record("a caller with another key was served: \(answer)")
                } catch let error as RemoteCallError {
                    #expect(error.code == .transport, "\(error)")
                    #expect(error.message.contains("refused this caller's key") || error.message.contains("handshake"),
                            "\(error.message)")
                }
                let took = clock.now - before
                #expect(took < .seconds(10), "the refusal came at the handshake, not at the 30 s deadline: \(took)")

                await stop()
                let entries = try ExecutionLog.entries(atPath: logPath)
                #expect(entries == [ExecutionLog.Entry(method: "append", key: allowedKey)],
                        "only the allowed caller's call ran")
                let logged = errors()
                #expect(logged.contains(stranger.publicKey.z85), "the node names the refused key for its operator: \(logged)")
                #expect(!logged.contains(nodeKeys.secretKey.z85), "the node's log shows its secret key")
            } catch {
                await stop()
                print("curve-node standard error:\n\(errors())\nits files are kept in \(folder.path)")
                throw error
            }
            try? FileManager.default.removeItem(at: folder)
        }
    }
}
