import Configuration
import Distributed
import Foundation
import Testing
@testable import Cort

/// CURVE security as a configuration sets it up: the `curve.*` keys of
/// `CortSystem.Configuration(config:discovery:)`, and the checks a system
/// makes when it starts serving or hosts with access rules.
@Suite(.timeLimit(.minutes(1))) struct SecurityConfigurationTests {
    /// A configuration named `n` with `values` (keys under `cort.`).
    static func configuration(_ values: [String: String]) throws -> CortSystem.Configuration {
        var all: [AbsoluteConfigKey: ConfigValue] = ["cort.name": "n"]
        for (key, value) in values {
            all[AbsoluteConfigKey(stringLiteral: "cort.\(key)")] = ConfigValue(.string(value), isSecret: key == "curve.secretKey")
        }
        let config = ConfigReader(provider: InMemoryProvider(values: all))
        return try CortSystem.Configuration(config: config.scoped(to: "cort"), discovery: LocalDiscovery())
    }

    /// The error reading `values` throws, or nil (with an issue) when it throws none.
    static func refusal(_ values: [String: String], sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationError? {
        #expect(throws: ConfigurationError.self, sourceLocation: sourceLocation) { try configuration(values) }
    }

    /// A folder of its own, removed at the end.
    static func withFolder<R>(_ body: (URL) throws -> R) throws -> R {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("cort-security-configuration-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        return try body(folder)
    }

    static func write(_ text: String, to url: URL) throws -> String {
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// Forty characters that are not a key: a real secret key with one
    /// character that Z85 does not have.
    static func mangledSecret() throws -> String {
        var text = Array(try CurveKeyPair.generate().secretKey.z85)
        text[3] = "~"
        return String(text)
    }

    // MARK: Reading

    @Test func withoutCurveKeysTheSystemIsPlaintext() throws {
        let security = try Self.configuration([:]).security
        #expect(!security.isEncrypted)
        #expect(security.publicKey == nil)
        #expect(security.description == "plaintext")
    }

    @Test func anInlineSecretKeyTurnsCurveOnAndThePublicKeyIsDerived() throws {
        let keys = try CurveKeyPair.generate()
        // Spaces around it, as a pasted value has them, are not part of the key.
        let security = try Self.configuration(["curve.secretKey": "  \(keys.secretKey.z85) "]).security
        #expect(security.isEncrypted)
        #expect(security.publicKey == keys.publicKey)
        #expect(security.keyPair == keys)
        #expect(security.allowedCallers == nil, "a caller needs no allow-list")
        #expect(security.description == "curve(\(keys.publicKey.z85))")
        #expect(!security.description.contains(keys.secretKey.z85))
    }

    @Test func aSecretKeyFileAndAnAllowListFileAreRead() throws {
        let keys = try CurveKeyPair.generate()
        let callers = [try CurveKeyPair.generate().publicKey, try CurveKeyPair.generate().publicKey]
        try Self.withFolder { folder in
            let keyPath = try Self.write(keys.secretKeyFileText, to: folder.appendingPathComponent("node.key"))
            let allowedPath = try Self.write(callers.map(\.z85).joined(separator: "\n") + "\n",
                                             to: folder.appendingPathComponent("allowed-callers"))
            let security = try Self.configuration(["curve.secretKeyFile": keyPath,
                                                   "curve.allowedCallersFile": allowedPath]).security
            #expect(security.isEncrypted)
            #expect(security.publicKey == keys.publicKey)
            #expect(security.keyPair?.secretKey == keys.secretKey)
            #expect(security.allowedCallers?.keys == Set(callers))
            #expect(security.allowedCallers?.path == allowedPath, "a list read from a file is watched")
        }
    }

    @Test func theEnvironmentVariablesNameTheSameSettings() throws {
        let keys = try CurveKeyPair.generate()
        let caller = try CurveKeyPair.generate()
        try Self.withFolder { folder in
            let keyPath = try Self.write(keys.secretKeyFileText, to: folder.appendingPathComponent("node.key"))
            let allowedPath = try Self.write(caller.publicKeyFileText, to: folder.appendingPathComponent("allowed"))
            let config = ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: [
                "CORT_NAME": "from-env",
                "CORT_CURVE_SECRET_KEY_FILE": keyPath,
                "CORT_CURVE_ALLOWED_CALLERS_FILE": allowedPath,
            ]))
            let security = try CortSystem.Configuration(config: config.scoped(to: "cort"), discovery: LocalDiscovery()).security
            #expect(security.publicKey == keys.publicKey)
            #expect(security.allowedCallers?.keys == [caller.publicKey])

            let inline = ConfigReader(provider: EnvironmentVariablesProvider(environmentVariables: [
                "CORT_NAME": "from-env", "CORT_CURVE_SECRET_KEY": keys.secretKey.z85,
            ]))
            #expect(try CortSystem.Configuration(config: inline.scoped(to: "cort"), discovery: LocalDiscovery())
                .security.publicKey == keys.publicKey)
        }
    }

    // MARK: Refusals

    @Test func bothAFileAndAnInlineKeyAreRefused() throws {
        let keys = try CurveKeyPair.generate()
        try Self.withFolder { folder in
            let keyPath = try Self.write(keys.secretKeyFileText, to: folder.appendingPathComponent("node.key"))
            let error = Self.refusal(["curve.secretKeyFile": keyPath, "curve.secretKey": keys.secretKey.z85])
            #expect(error?.code == .invalidKey)
            #expect(error?.message.contains("curve.secretKeyFile") == true, "\(String(describing: error))")
            #expect(!"\(String(describing: error))".contains(keys.secretKey.z85))
        }
    }

    @Test func anAllowListWithoutASecretKeyIsRefused() throws {
        let caller = try CurveKeyPair.generate()
        try Self.withFolder { folder in
            let allowedPath = try Self.write(caller.publicKey.z85 + "\n", to: folder.appendingPathComponent("allowed"))
            let error = Self.refusal(["curve.allowedCallersFile": allowedPath])
            #expect(error?.code == .invalidKey)
            #expect(error?.message.contains("curve.allowedCallersFile") == true, "\(String(describing: error))")
        }
    }

    @Test(arguments: ["short", "mangled", String(repeating: " ", count: 3)])
    func anInlineKeyThatIsNotAKeyIsRefusedWithoutRepeatingIt(text: String) throws {
        let bad = text == "mangled" ? try Self.mangledSecret() : text
        let error = Self.refusal(["curve.secretKey": bad])
        #expect(error?.code == .invalidKey)
        #expect(error?.message.contains("curve.secretKey") == true, "\(String(describing: error))")
        if !bad.trimmingCharacters(in: .whitespaces).isEmpty {
            #expect(!"\(String(describing: error))".contains(bad), "the error repeats the secret: \(String(describing: error))")
        }
    }

    @Test func aSecretKeyFileThatCannotBeReadIsRefusedNamingIt() throws {
        try Self.withFolder { folder in
            let missing = folder.appendingPathComponent("no-such.key").path
            let error = Self.refusal(["curve.secretKeyFile": missing])
            #expect(error?.code == .invalidKey)
            #expect(error?.message.contains(missing) == true, "\(String(describing: error))")

            let mangled = try Self.mangledSecret()
            let broken = try Self.write("secret-key = \"\(mangled)\"\n", to: folder.appendingPathComponent("broken.key"))
            let brokenError = Self.refusal(["curve.secretKeyFile": broken])
            #expect(brokenError?.code == .invalidKey)
            #expect(brokenError?.message.contains(broken) == true, "\(String(describing: brokenError))")
            #expect(!"\(String(describing: brokenError))".contains(mangled), "the error repeats the secret")
        }
    }

    // MARK: Starting and hosting

    @Test func aCurveNodeWithoutAnAllowListDoesNotStart() async throws {
        let keys = try CurveKeyPair.generate()
        let error = #expect(throws: ConfigurationError.self) {
            try CortSystem.start(.init(name: "no-allow-list", discovery: LocalDiscovery(), endpoint: "tcp://127.0.0.1:0",
                                       security: .curve(keyPair: keys)))
        }
        #expect(error?.code == .invalidKey)
        #expect(error?.message.contains("allow") == true, "\(String(describing: error))")
        // A system that only calls needs none.
        let caller = try CortSystem.start(.init(name: "curve-caller", discovery: LocalDiscovery(),
                                                security: .curve(keyPair: keys)))
        #expect(caller.endpoint == nil)
        await caller.shutdown()
    }

    @Test func accessRulesNeedCurve() async throws {
        let caller = try CurveKeyPair.generate()
        let plaintext = try CortSystem.start(.init(name: "plain-host", discovery: LocalDiscovery(), endpoint: "tcp://127.0.0.1:0"))
        let error = await #expect(throws: ConfigurationError.self) {
            try await plaintext.host("guarded", access: .callers([caller.publicKey])) { SecurityConfigurationProbe(actorSystem: $0) }
        }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.contains("guarded") == true, "\(String(describing: error))")
        // Without rules it hosts as ever.
        try await plaintext.host("open") { SecurityConfigurationProbe(actorSystem: $0) }
        await plaintext.shutdown()

        let nodeKeys = try CurveKeyPair.generate()
        let curve = try CortSystem.start(.init(
            name: "curve-host", discovery: LocalDiscovery(), endpoint: "tcp://127.0.0.1:0",
            security: .curve(keyPair: nodeKeys, allowedCallers: CallerAllowList([caller.publicKey]))))
        try await curve.host("guarded", access: .callers([caller.publicKey])) { SecurityConfigurationProbe(actorSystem: $0) }
        await curve.shutdown()
    }
}

/// A service to host under access rules.
distributed actor SecurityConfigurationProbe {
    typealias ActorSystem = CortSystem

    distributed func answer() -> Int { 42 }
}
