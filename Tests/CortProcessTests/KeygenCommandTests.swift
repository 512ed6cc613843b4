import Cort
import Foundation
import Subprocess
import Testing

/// `cort keygen`, run as the built `cort` executable.
@Suite(.timeLimit(.minutes(1))) struct KeygenCommandTests {
    /// What a run of `cort` left.
    typealias Run = CortTool.Run

    private func cort(_ arguments: [String]) async throws -> Run {
        try await CortTool.run(arguments)
    }

    /// A folder of its own under the temporary folder, removed at the end.
    private func withDirectory<R>(_ body: (String) async throws -> R) async throws -> R {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cort-keygen-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await body(directory.path)
    }

    private func mode(of path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return try #require(attributes[.posixPermissions] as? Int)
    }

    private static let ok = ChildProcess.Exit(status: 0, signalled: false)
    private static let failure = ChildProcess.Exit(status: 1, signalled: false)

    @Test("keygen NAME writes NAME.key (mode 0600) and NAME.pub, and prints the public key and both paths")
    func writesKeyFiles() async throws {
        try await withDirectory { directory in
            let run = try await cort(["keygen", "alice", "--directory", directory])
            #expect(run.exit == Self.ok, "\(run.exit): \(run.errors)")
            let secretPath = directory + "/alice.key"
            let publicPath = directory + "/alice.pub"
            #expect(try mode(of: secretPath) == 0o600)

            let printed = try #require(run.output.split(separator: "\n").first { $0.hasPrefix("public key:") })
            let publicKey = try CurveKey(z85: String(printed.dropFirst("public key:".count).trimmingCharacters(in: .whitespaces)))
            #expect(try CurveKey(contentsOfPublicKeyFile: publicPath) == publicKey)
            let pair = try CurveKeyPair(contentsOfFile: secretPath)
            #expect(pair.publicKey == publicKey)
            #expect(run.output.contains(secretPath))
            #expect(run.output.contains(publicPath))
            #expect(!run.output.contains(pair.secretKey.z85))
            #expect(try String(contentsOfFile: publicPath, encoding: .utf8).contains(pair.secretKey.z85) == false)
        }
    }

    @Test("a second keygen NAME fails with status 1 and leaves the files as they were; --force replaces them")
    func refusesToOverwrite() async throws {
        try await withDirectory { directory in
            let secretPath = directory + "/alice.key"
            let publicPath = directory + "/alice.pub"
            let first = try await cort(["keygen", "alice", "--directory", directory])
            #expect(first.exit == Self.ok, "\(first.exit): \(first.errors)")
            let secretBefore = try Data(contentsOf: URL(fileURLWithPath: secretPath))
            let publicBefore = try Data(contentsOf: URL(fileURLWithPath: publicPath))

            let second = try await cort(["keygen", "alice", "--directory", directory])
            #expect(second.exit == Self.failure, "\(second.exit)")
            #expect(second.errors.contains("\(secretPath) already exists"), "\(second.errors)")
            #expect(second.errors.contains("--force"), "\(second.errors)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: secretPath)) == secretBefore)
            #expect(try Data(contentsOf: URL(fileURLWithPath: publicPath)) == publicBefore)

            // Only the .pub left: still refused, and nothing written.
            try FileManager.default.removeItem(atPath: secretPath)
            let third = try await cort(["keygen", "alice", "--directory", directory])
            #expect(third.exit == Self.failure, "\(third.exit)")
            #expect(third.errors.contains("\(publicPath) already exists"), "\(third.errors)")
            #expect(!FileManager.default.fileExists(atPath: secretPath))
            #expect(try Data(contentsOf: URL(fileURLWithPath: publicPath)) == publicBefore)

            let forced = try await cort(["keygen", "alice", "--directory", directory, "--force"])
            #expect(forced.exit == Self.ok, "\(forced.exit): \(forced.errors)")
            #expect(try mode(of: secretPath) == 0o600)
            let pair = try CurveKeyPair(contentsOfFile: secretPath)
            #expect(try CurveKey(contentsOfPublicKeyFile: publicPath) == pair.publicKey)
            #expect(try Data(contentsOf: URL(fileURLWithPath: publicPath)) != publicBefore)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["alice.key", "alice.pub"])
        }
    }

    @Test("a folder that cannot be written to fails with status 1 and says why")
    func unwritableFolder() async throws {
        let directory = "/nonexistent-folder-for-cort/\(UUID())"
        let run = try await cort(["keygen", "alice", "--directory", directory])
        #expect(run.exit == Self.failure, "\(run.exit)")
        #expect(run.errors.contains("cannot create \(directory)/alice.key"), "\(run.errors)")
    }

    @Test("keygen --json prints both keys of a matching pair; with NAME, the paths and no secret")
    func json() async throws {
        let run = try await cort(["keygen", "--json"])
        #expect(run.exit == Self.ok, "\(run.exit): \(run.errors)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: String])
        #expect(Set(object.keys) == ["publicKey", "secretKey"])
        let pair = try CurveKeyPair(secretKey: CurveKey(z85: try #require(object["secretKey"])))
        #expect(pair.publicKey.z85 == object["publicKey"])

        try await withDirectory { directory in
            let run = try await cort(["keygen", "bob", "--directory", directory, "--json"])
            #expect(run.exit == Self.ok, "\(run.exit): \(run.errors)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: String])
            #expect(object == [
                "publicKey": try CurveKeyPair(contentsOfFile: directory + "/bob.key").publicKey.z85,
                "secretKeyFile": directory + "/bob.key",
                "publicKeyFile": directory + "/bob.pub",
            ])
        }
    }

    @Test("keygen without NAME prints curve_keygen's layout, which a key file reader takes")
    func curveKeygenLayout() async throws {
        let run = try await cort(["keygen"])
        #expect(run.exit == Self.ok, "\(run.exit): \(run.errors)")
        let lines = run.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count == 6, "\(lines)")
        guard lines.count == 6 else { return }
        #expect(lines[0] == "== CURVE PUBLIC KEY ==")
        #expect(lines[2].isEmpty)
        #expect(lines[3] == "== CURVE SECRET KEY ==")
        let pair = try CurveKeyPair(keyFileText: run.output, source: "cort keygen")
        #expect(pair.publicKey.z85 == lines[1])
        #expect(pair.secretKey.z85 == lines[4])
    }

    @Test("keygen --help describes NAME and each option")
    func help() async throws {
        let run = try await cort(["keygen", "--help"])
        #expect(run.exit == Self.ok, "\(run.exit): \(run.errors)")
        for word in ["<name>", "--directory <dir>", "--force", "--json", "mode 0600", "curve_keygen"] {
            #expect(run.output.contains(word), "\(word) is not in\n\(run.output)")
        }
        let top = try await cort(["--help"])
        #expect(top.output.contains("keygen"), "\(top.output)")
    }

    @Test("--force without NAME is a usage error")
    func forceWithoutName() async throws {
        let run = try await cort(["keygen", "--force"])
        #expect(run.exit == ChildProcess.Exit(status: 64, signalled: false), "\(run.exit)")
        #expect(run.errors.contains("give a NAME"), "\(run.errors)")
        #expect(run.output.isEmpty)
    }
}
