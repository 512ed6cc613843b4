import Foundation
import Testing
@testable import Cort

/// Reading CURVE key files: cort's own, curve_keygen's output, czmq's zcert
/// certificates and lone key lines; errors name the line and never the secret.
@Suite(.timeLimit(.minutes(1))) struct CurveKeyFileTests {
    /// The server pair of zmq_curve(7), whose public key libzmq's own docs derive.
    static let manualSecret = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
    static let manualPublic = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"

    /// What libzmq's curve_keygen prints, prose included.
    static func curveKeygenOutput(_ pair: CurveKeyPair) -> String {
        """
        This tool generates a CurveZMQ keypair, as two printable strings you can
        use in configuration files or source code. The encoding uses Z85, which
        is a base-85 format that is described in 0MQ RFC 32, and which has an
        implementation in the z85_codec.h source used by this tool. The keypair
        always works with the secret key held by one party and the public key
        distributed (securely!) to peers wishing to connect to it.

        == CURVE PUBLIC KEY ==
        \(pair.publicKey.z85)

        == CURVE SECRET KEY ==
        \(pair.secretKey.z85)

        """
    }

    /// A czmq zcert secret certificate (zcert_save_secret).
    static func zcertSecret(_ pair: CurveKeyPair) -> String {
        """
        #   ****  Generated on 2025-06-01 10:00:00 by CZMQ  ****
        #   ZeroMQ CURVE **Secret** Certificate
        #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

        metadata
            name = "orders-1"
            email = 'ops@example.com'
        curve
            public-key = "\(pair.publicKey.z85)"
            secret-key = "\(pair.secretKey.z85)"

        """
    }

    /// A czmq zcert public certificate (zcert_save_public).
    static func zcertPublic(_ key: CurveKey) -> String {
        """
        #   ****  Generated on 2025-06-01 10:00:00 by CZMQ  ****
        #   ZeroMQ CURVE Public Certificate
        #   Exchange securely, or use a secure mechanism to verify the contents
        #   of this file after exchange.

        metadata
            name = "orders-1"
        curve
            public-key = "\(key.z85)"

        """
    }

    private func withTemporaryFile<R>(_ text: String, _ body: (String) throws -> R) throws -> R {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cort-keyfile-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("node.key").path
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        return try body(path)
    }

    // MARK: secret key files

    @Test("each secret key format reads back the pair written in it", arguments: [
        "cort", "curve_keygen", "zcert", "lone key", "lone key with CRLF and comments",
    ])
    func secretFormatsRoundTrip(format: String) throws {
        let pair = try CurveKeyPair.generate()
        let text = switch format {
        case "cort": pair.secretKeyFileText
        case "curve_keygen": Self.curveKeygenOutput(pair)
        case "zcert": Self.zcertSecret(pair)
        case "lone key": pair.secretKey.z85 + "\n"
        default: "# orders-1\r\n\r\n\(pair.secretKey.z85)   # rotated in June\r\n"
        }
        let read = try CurveKeyPair(keyFileText: text, source: format)
        #expect(read == pair)
    }

    @Test("the public key is derived from the secret one, as in libzmq's manual")
    func publicKeyIsDerived() throws {
        let manual = try CurveKeyPair(keyFileText: "\(Self.manualSecret)\n", source: "manual")
        #expect(manual.publicKey.z85 == Self.manualPublic)
        #expect(manual.secretKey.z85 == Self.manualSecret)
        let keygen = try CurveKeyPair(keyFileText: """
            == CURVE PUBLIC KEY ==
            \(Self.manualPublic)

            == CURVE SECRET KEY ==
            \(Self.manualSecret)
            """, source: "keygen")
        #expect(keygen == manual)
    }

    @Test("cort's secret key file: a comment header, then the public and the secret key")
    func secretKeyFileText() throws {
        let pair = try CurveKeyPair.generate()
        let lines = pair.secretKeyFileText.split(separator: "\n").map(String.init)
        #expect(lines == [
            "# cort CURVE secret key: keep this file private (mode 0600)",
            "public-key = \"\(pair.publicKey.z85)\"",
            "secret-key = \"\(pair.secretKey.z85)\"",
        ])
        #expect(try CurveKeyPair(keyFileText: pair.secretKeyFileText, source: "x").secretKey == pair.secretKey)
    }

    @Test("no Z85 key starts with #, so a comment line is never a key")
    func noKeyStartsWithHash() throws {
        // The first of each 5 characters encodes the top of a 32-bit number:
        // at most 4294967295 / 85^4 = 82, and `#` is character 84.
        let highest = try CurveKey(rawBytes: [UInt8](repeating: 0xFF, count: 32)).z85
        #expect(highest.hasPrefix("%"))
        #expect(highest.allSatisfy { $0 != "#" && $0 != "$" })
    }

    @Test("a secret key file is read from disk")
    func readsFile() throws {
        let pair = try CurveKeyPair.generate()
        let read = try withTemporaryFile(pair.secretKeyFileText) { try CurveKeyPair(contentsOfFile: $0) }
        #expect(read == pair)
    }

    @Test("a missing file is an invalidKey error that names it")
    func missingFile() {
        let path = "/nonexistent-folder-for-cort/\(UUID()).key"
        let error = #expect(throws: ConfigurationError.self) { try CurveKeyPair(contentsOfFile: path) }
        #expect(error?.code == .invalidKey)
        #expect(error?.message.contains(path) == true, "\(String(describing: error))")
        let folder = #expect(throws: ConfigurationError.self) {
            try CurveKeyPair(contentsOfFile: FileManager.default.temporaryDirectory.path)
        }
        #expect(folder?.message.contains("Is a directory") == true, "\(String(describing: folder))")
    }

    /// The broken files: the text, with `{secret}` standing for a fresh
    /// secret key, `{public}` for its public key, `{other}` for another
    /// public key, `{short}` for the secret key cut short and `{notz85}` for
    /// 40 characters that are not Z85;
    /// the line the error names, nil for none; words of the message.
    static let brokenSecretFiles: [(String, String, Int?, String)] = [
        ("mismatched public key", "# a\npublic-key = \"{other}\"\nsecret-key = \"{secret}\"\n", 2, "does not match"),
        ("mismatched public key, curve_keygen", "== CURVE PUBLIC KEY ==\n{other}\n== CURVE SECRET KEY ==\n{secret}\n", 2, "does not match"),
        ("a short key", "secret-key = \"{secret}\"\n# below: one character short\n{short}\n", 3, "40 characters"),
        ("a short secret-key value", "\n\nsecret-key = \"{short}\"\n", 3, "has 39 characters"),
        ("not Z85", "public-key = \"{public}\"\nsecret-key = \"{notz85}\"\n", 2, "not valid Z85"),
        ("no key after the header", "== CURVE PUBLIC KEY ==\n{public}\n\n== CURVE SECRET KEY ==\n\n", 4, "not followed by a key"),
        ("a header right after a header", "== CURVE SECRET KEY ==\n== CURVE PUBLIC KEY ==\n{public}\n", 1, "not followed by a key"),
        ("two secret keys", "secret-key = \"{secret}\"\n\nsecret-key = \"{secret}\"\n", 3, "second secret key (the first is on line 1)"),
        ("two lone keys", "{secret}\n# again\n{secret}\n", 3, "second secret key"),
        ("two public keys", "public-key = \"{public}\"\npublic-key = \"{public}\"\nsecret-key = \"{secret}\"\n", 2, "second public key"),
        ("an unquoted value with trailing text", "secret-key = {secret} and more\n", 1, "malformed"),
        ("an unclosed quote", "secret-key = \"{secret}\n", 1, "malformed"),
        ("a stray line", "secret-key = \"{secret}\"\nthis is not a key\n", 2, "not a key"),
        ("only a public key", "public-key = \"{public}\"\n", nil, "no secret key"),
        ("an empty file", "", nil, "no secret key"),
    ]

    @Test("a broken secret key file is an invalidKey error naming the file and line, never the secret key",
          arguments: brokenSecretFiles)
    func brokenSecretFile(name: String, template: String, line: Int?, words: String) throws {
        let pair = try CurveKeyPair.generate()
        let secret = pair.secretKey.z85
        // Not Z85 although 40 characters long: `~` is not in the alphabet.
        let notZ85 = "~" + secret.dropFirst()
        let text = template
            .replacingOccurrences(of: "{secret}", with: secret)
            .replacingOccurrences(of: "{public}", with: pair.publicKey.z85)
            .replacingOccurrences(of: "{other}", with: try CurveKeyPair.generate().publicKey.z85)
            .replacingOccurrences(of: "{short}", with: String(secret.dropLast()))
            .replacingOccurrences(of: "{notz85}", with: notZ85)
        let error = #expect(throws: ConfigurationError.self, "\(name)") {
            try CurveKeyPair(keyFileText: text, source: "/etc/cort/node.key")
        }
        let message = error?.message ?? ""
        #expect(error?.code == .invalidKey)
        #expect(message.hasPrefix("/etc/cort/node.key"), "\(name): \(message)")
        if let line {
            #expect(message.contains("line \(line):"), "\(name): \(message)")
        } else {
            #expect(!message.contains(", line "), "\(name): \(message)")
        }
        #expect(message.contains(words), "\(name): \(message)")
        // Not the secret, nor a piece of it.
        #expect(!message.contains(secret.prefix(12)), "\(name): \(message)")
        #expect(!message.contains(secret.suffix(12)), "\(name): \(message)")
        #expect(!"\(String(describing: error))".contains(secret.suffix(12)))
    }

    @Test("a mismatched public key error names the right public key, so the file can be fixed")
    func mismatchNamesDerivedKey() throws {
        let pair = try CurveKeyPair.generate()
        let other = try CurveKeyPair.generate()
        let text = "public-key = \"\(other.publicKey.z85)\"\nsecret-key = \"\(pair.secretKey.z85)\"\n"
        let error = #expect(throws: ConfigurationError.self) { try CurveKeyPair(keyFileText: text, source: "k") }
        #expect(error?.message.contains(pair.publicKey.z85) == true)
    }

    // MARK: public key files

    @Test("each public key format reads back the key written in it", arguments: [
        "cort", "curve_keygen", "zcert", "lone key",
    ])
    func publicFormatsRoundTrip(format: String) throws {
        let pair = try CurveKeyPair.generate()
        let text = switch format {
        case "cort": pair.publicKeyFileText
        case "curve_keygen": "== CURVE PUBLIC KEY ==\n\(pair.publicKey.z85)\n"
        case "zcert": Self.zcertPublic(pair.publicKey)
        default: "# orders-1\n\(pair.publicKey.z85)\n"
        }
        #expect(try CurveKey(publicKeyFileText: text, source: format) == pair.publicKey)
    }

    @Test("cort's public key file: a comment, then the public key")
    func publicKeyFileText() throws {
        let pair = try CurveKeyPair.generate()
        let lines = pair.publicKeyFileText.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("# ") == true)
        #expect(lines.last == "public-key = \"\(pair.publicKey.z85)\"")
        #expect(!pair.publicKeyFileText.contains(pair.secretKey.z85))
    }

    @Test("a public key file is read from disk")
    func readsPublicFile() throws {
        let pair = try CurveKeyPair.generate()
        let key = try withTemporaryFile(pair.publicKeyFileText) { try CurveKey(contentsOfPublicKeyFile: $0) }
        #expect(key == pair.publicKey)
    }

    @Test("a public key file with a secret key, two keys, a broken key or none is refused, naming the line")
    func brokenPublicFiles() throws {
        let pair = try CurveKeyPair.generate()
        let cases: [(String, Int?, String)] = [
            (pair.secretKeyFileText, 3, "secret key in a public key file"),
            (Self.curveKeygenOutput(pair), 12, "secret key in a public key file"),
            ("\(pair.publicKey.z85)\npublic-key = \"\(pair.publicKey.z85)\"\n", 2, "second public key"),
            ("# nothing\n", nil, "no public key"),
            ("public-key = \"\(pair.publicKey.z85.dropLast())\"\n", 1, "39 characters"),
        ]
        for (text, line, words) in cases {
            let error = #expect(throws: ConfigurationError.self) { try CurveKey(publicKeyFileText: text, source: "p.pub") }
            let message = error?.message ?? ""
            #expect(error?.code == .invalidKey)
            #expect(message.contains(words), "\(message)")
            #expect(message.contains(line.map { "p.pub, line \($0):" } ?? "p.pub: "), "\(message)")
            #expect(!message.contains(pair.secretKey.z85.suffix(12)), "\(message)")
        }
    }
}
