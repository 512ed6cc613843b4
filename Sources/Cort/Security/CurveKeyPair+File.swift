#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

extension CurveKeyPair {
    /// The pair in the secret key file at `path`.
    ///
    /// The file holds the secret key, so it should be readable by its owner
    /// only (mode 0600, as `cort keygen` creates it); it is read whatever its
    /// mode. See ``init(keyFileText:source:)`` for the formats read.
    ///
    /// ```swift
    /// let keys = try CurveKeyPair(contentsOfFile: "/etc/cort/orders.key")
    /// let security = Security.curve(keyPair: keys, allowedCallers: allowed)
    /// ```
    ///
    /// - Throws: ``ConfigurationError/Code/invalidKey`` if the file cannot be
    ///   read or holds no valid secret key; the message names the file and
    ///   line, never the secret key.
    public init(contentsOfFile path: String) throws(ConfigurationError) {
        try self.init(keyFileText: try KeyFileSyntax.read(path), source: path)
    }

    /// The pair in the text of a secret key file; `source` names it in errors.
    ///
    /// Three formats are read, so keys made by other ZeroMQ tools work as they are:
    ///
    /// - cort's own, ``secretKeyFileText``: `public-key = "…"` and
    ///   `secret-key = "…"` lines (czmq's zcert secret certificates are read
    ///   too: their `curve` section holds the same two lines, and the rest is skipped);
    /// - the output of libzmq's `curve_keygen`: the line after
    ///   `== CURVE SECRET KEY ==` is the secret key, the one after
    ///   `== CURVE PUBLIC KEY ==` the public key, and the prose before the
    ///   first of these headers is skipped;
    /// - a lone line with the 40 characters of the secret key in Z85.
    ///
    /// Blank lines and lines starting with `#` are skipped (`#` is a Z85
    /// character, but no key starts with it: its first character encodes
    /// the top of a 32-bit number). The public key is always derived from
    /// the secret one; a public key the file names as well must match it.
    ///
    /// - Throws: ``ConfigurationError/Code/invalidKey`` when the text holds
    ///   no secret key, two of them, a key that is not valid Z85, a public key
    ///   that does not match, or a line that is none of the above; the message
    ///   names `source` and the line, never the secret key.
    public init(keyFileText: String, source: String) throws(ConfigurationError) {
        let found = try KeyFileSyntax.scan(keyFileText, source: source)
        // A lone key line in a secret key file is the secret key.
        let secrets = (found.secretKeys + found.bareKeys).sorted { $0.line < $1.line }
        guard let secret = secrets.first else {
            throw KeyFileSyntax.error(source, line: nil, "no secret key: expected a cort key file (cort keygen), "
                                      + "the output of curve_keygen, a zcert secret certificate "
                                      + "or a line with the 40-character Z85 secret key")
        }
        if secrets.count > 1 {
            throw KeyFileSyntax.error(source, line: secrets[1].line,
                                      "a second secret key (the first is on line \(secret.line)): a key file holds one pair")
        }
        if found.publicKeys.count > 1 {
            throw KeyFileSyntax.error(source, line: found.publicKeys[1].line,
                                      "a second public key (the first is on line \(found.publicKeys[0].line))")
        }
        let pair: CurveKeyPair
        do {
            pair = try CurveKeyPair(secretKey: secret.key)
        } catch {
            throw ConfigurationError(.invalidKey, "\(source): cannot derive the public key from the secret key "
                                     + "(libzmq without CURVE?)", cause: error)
        }
        if let named = found.publicKeys.first, named.key != pair.publicKey {
            throw KeyFileSyntax.error(source, line: named.line, "the public key does not match the secret key, "
                                      + "whose public key is \(pair.publicKey.z85)")
        }
        self.init(publicKey: pair.publicKey, secretKey: pair.secretKey)
    }

    /// The pair as cort writes a secret key file (`cort keygen`), which
    /// ``init(keyFileText:source:)`` reads back:
    ///
    /// ```
    /// # cort CURVE secret key: keep this file private (mode 0600)
    /// public-key = "<40 characters of Z85>"
    /// secret-key = "<40 characters of Z85>"
    /// ```
    ///
    /// The public key is written too so that people can tell which pair a
    /// file holds without deriving it.
    public var secretKeyFileText: String {
        """
        # cort CURVE secret key: keep this file private (mode 0600)
        public-key = "\(publicKey.z85)"
        secret-key = "\(secretKey.z85)"

        """
    }

    /// The public key as cort writes a public key file (`cort keygen`), which
    /// ``CurveKey/init(publicKeyFileText:source:)`` reads back:
    ///
    /// ```
    /// # cort CURVE public key: give it to the peers that check this key
    /// public-key = "<40 characters of Z85>"
    /// ```
    ///
    /// A ``CallerAllowList`` file reads these lines too, so the public key
    /// files of the callers, concatenated, make a node's allow-list.
    public var publicKeyFileText: String {
        """
        # cort CURVE public key: give it to the peers that check this key
        public-key = "\(publicKey.z85)"

        """
    }
}

extension CurveKey {
    /// The public key in the text of a public key file; `source` names it in errors.
    ///
    /// Read: cort's ``CurveKeyPair/publicKeyFileText`` (`public-key = "…"`),
    /// czmq's zcert public certificates (the same line in a `curve`
    /// section), `curve_keygen`'s `== CURVE PUBLIC KEY ==` header followed by
    /// the key, or a lone line with the 40 characters of the key in Z85.
    /// Blank lines and `#` comments are skipped.
    ///
    /// - Throws: ``ConfigurationError/Code/invalidKey`` when the text holds no
    ///   public key, two of them, a key that is not valid Z85, or a secret key
    ///   (a secret key file is not to be handed around as a public one); the
    ///   message names `source` and the line.
    public init(publicKeyFileText: String, source: String) throws(ConfigurationError) {
        let found = try KeyFileSyntax.scan(publicKeyFileText, source: source)
        if let secret = found.secretKeys.first {
            throw KeyFileSyntax.error(source, line: secret.line, "a secret key in a public key file: "
                                      + "give peers the public key only (the .pub file of cort keygen)")
        }
        let keys = (found.publicKeys + found.bareKeys).sorted { $0.line < $1.line }
        guard let key = keys.first else {
            throw KeyFileSyntax.error(source, line: nil, "no public key: expected public-key = \"<key>\" "
                                      + "or a line with the 40-character Z85 public key")
        }
        if keys.count > 1 {
            throw KeyFileSyntax.error(source, line: keys[1].line,
                                      "a second public key (the first is on line \(key.line)): a public key file holds one key")
        }
        self = key.key
    }

    /// The public key in the file at `path`; see ``init(publicKeyFileText:source:)``.
    ///
    /// ```swift
    /// let node = try CurveKey(contentsOfPublicKeyFile: "/etc/cort/orders.pub")
    /// ```
    ///
    /// - Throws: ``ConfigurationError/Code/invalidKey`` if the file cannot be
    ///   read or holds no valid public key.
    public init(contentsOfPublicKeyFile path: String) throws(ConfigurationError) {
        try self.init(publicKeyFileText: try KeyFileSyntax.read(path), source: path)
    }
}

/// The keys a key file names, each with its line, before they are checked
/// against each other.
struct KeyFileContents {
    struct Found {
        var key: CurveKey
        var line: Int
    }

    /// From `public-key = …` and `curve_keygen`'s public header.
    var publicKeys: [Found] = []
    /// From `secret-key = …` and `curve_keygen`'s secret header.
    var secretKeys: [Found] = []
    /// Lone key lines: what they are depends on the kind of file.
    var bareKeys: [Found] = []
}

/// The line syntax shared by key files and allow-lists: `#` comments,
/// lone Z85 keys, ZPL-style `name = "value"` settings (czmq's certificates)
/// and `curve_keygen`'s headers.
///
/// Errors never quote a line: it may hold a secret key.
enum KeyFileSyntax {
    struct Line {
        var number: Int
        /// How many spaces or tabs it starts with (ZPL nests sections by indentation).
        var indent: Int
        /// The line without leading and trailing whitespace.
        var text: Substring
    }

    enum Header {
        case publicKey, secretKey

        var role: String {
            switch self {
            case .publicKey: "public key"
            case .secretKey: "secret key"
            }
        }

        var text: String {
            switch self {
            case .publicKey: KeyFileSyntax.publicHeader
            case .secretKey: KeyFileSyntax.secretHeader
            }
        }
    }

    static let publicHeader = "== CURVE PUBLIC KEY =="
    static let secretHeader = "== CURVE SECRET KEY =="

    /// ZeroMQ RFC 32's 85 characters. It holds `#` and `=`, so a key line
    /// is told apart from comments and settings by its length and alphabet.
    static let z85Alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")
    /// The characters of a ZPL name (section or setting).
    static let nameCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789$-_@.&+/")

    static func error(_ source: String, line: Int?, _ what: String) -> ConfigurationError {
        ConfigurationError(.invalidKey, line.map { "\(source), line \($0): \(what)" } ?? "\(source): \(what)")
    }

    /// The text of the file at `path`.
    static func read(_ path: String) throws(ConfigurationError) -> String {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            // Foundation's error names the file but says why only in its underlying POSIX error.
            let reason = ((error as? CocoaError)?.underlying as? POSIXError).map { ": " + String(cString: strerror($0.code.rawValue)) } ?? ""
            throw ConfigurationError(.invalidKey, "cannot read \(path)\(reason)", cause: error)
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw ConfigurationError(.invalidKey, "\(path): not UTF-8 text")
        }
        return text
    }

    /// `text`'s lines, numbered from 1 (`\r\n` ends a line too).
    static func lines(_ text: String) -> [Line] {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated().map { index, raw in
            let indent = raw.prefix { $0 == " " || $0 == "\t" }.count
            return Line(number: index + 1, indent: indent, text: trimmed(raw))
        }
    }

    static func trimmed(_ text: Substring) -> Substring {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
              let last = text.lastIndex(where: { !$0.isWhitespace }) else { return text[text.endIndex...] }
        return text[first...last]
    }

    static func header(_ line: Substring) -> Header? {
        if line == publicHeader { return .publicKey }
        if line == secretHeader { return .secretKey }
        return nil
    }

    /// The key of a line that is 40 Z85 characters, maybe followed by a `#` comment.
    static func bareKey(_ line: Substring) -> Substring? {
        let token = line.prefix { !$0.isWhitespace }
        guard token.count == 40, token.allSatisfy(z85Alphabet.contains) else { return nil }
        let rest = trimmed(line[token.endIndex...])
        return rest.isEmpty || rest.hasPrefix("#") ? token : nil
    }

    /// A `name = value` line: the value is quoted (`"…"` or `'…'`) or one
    /// word, maybe followed by a `#` comment; a nil value when it is malformed.
    static func setting(_ line: Substring) -> (name: Substring, value: Substring?)? {
        guard let equals = line.firstIndex(of: "=") else { return nil }
        let name = trimmed(line[..<equals])
        guard !name.isEmpty, name.allSatisfy(nameCharacters.contains) else { return nil }
        // A key holds `=` and no space: `abc=…` is a key cut short or followed
        // by words, unless it is one of the two names a key file uses.
        guard keySetting(name) != nil || line[..<equals].last?.isWhitespace == true else { return nil }
        let rest = trimmed(line[line.index(after: equals)...])
        let value: Substring
        let after: Substring
        if let quote = rest.first, quote == "\"" || quote == "'" {
            let body = rest.dropFirst()
            guard let close = body.firstIndex(of: quote) else { return (name, nil) }
            value = body[..<close]
            after = trimmed(body[body.index(after: close)...])
        } else {
            value = rest.prefix { !$0.isWhitespace }
            after = trimmed(rest[value.endIndex...])
        }
        guard after.isEmpty || after.hasPrefix("#") else { return (name, nil) }
        return (name, value)
    }

    /// The key in `text`, the `role` of line `line` of `source`.
    static func key(_ text: Substring, role: String, source: String, line: Int) throws(ConfigurationError) -> CurveKey {
        guard text.count == 40 else {
            throw error(source, line: line, "the \(role) has \(text.count) characters; a key has 40 characters of Z85")
        }
        guard text.allSatisfy(z85Alphabet.contains) else {
            throw error(source, line: line, "the \(role) is not valid Z85 text")
        }
        do {
            return try CurveKey(z85: String(text))
        } catch {
            throw self.error(source, line: line, "the \(role) is not valid Z85 text")
        }
    }

    /// The key a `public-key` or `secret-key` setting holds.
    static func keySetting(_ name: Substring) -> Header? {
        switch name {
        case "public-key": .publicKey
        case "secret-key": .secretKey
        default: nil
        }
    }

    /// Why `line`, which is no key, looks like a key with a wrong length:
    /// a word of Z85 characters, too long for a name, and no `public-key`
    /// or `secret-key` setting.
    static func wrongKeyLength(_ line: Substring) -> String? {
        let token = line.prefix { !$0.isWhitespace }
        guard token.count >= 20, token.count != 40, token.allSatisfy(z85Alphabet.contains) else { return nil }
        if let entry = setting(line), keySetting(entry.name) != nil { return nil }
        return "a key has 40 characters of Z85, this one has \(token.count)"
    }

    /// The keys of a key file: see ``CurveKeyPair/init(keyFileText:source:)``.
    static func scan(_ text: String, source: String) throws(ConfigurationError) -> KeyFileContents {
        let lines = lines(text)
        var found = KeyFileContents()
        // curve_keygen prints prose before its keys: lines there that are no
        // key or setting are skipped.
        let firstHeader = lines.first { header($0.text) != nil }?.number
        var pending: (header: Header, line: Int)?
        // The ZPL section at indentation 0 the line is in (zcert: `metadata`, `curve`).
        var section: Substring?
        for line in lines where !line.text.isEmpty {
            if let awaited = pending {
                pending = nil
                guard header(line.text) == nil else {
                    throw error(source, line: awaited.line, "\(awaited.header.text) is not followed by a key")
                }
                let key = try key(line.text, role: awaited.header.role, source: source, line: line.number)
                switch awaited.header {
                case .publicKey: found.publicKeys.append(.init(key: key, line: line.number))
                case .secretKey: found.secretKeys.append(.init(key: key, line: line.number))
                }
                continue
            }
            if line.text.hasPrefix("#") { continue }
            if let header = header(line.text) {
                pending = (header, line.number)
                continue
            }
            if let token = bareKey(line.text) {
                let key = try key(token, role: "key", source: source, line: line.number)
                found.bareKeys.append(.init(key: key, line: line.number))
                continue
            }
            let entry = setting(line.text)
            // Top-level settings are cort's format; zcert nests them in `curve`.
            if let entry, let role = keySetting(entry.name), line.indent == 0 || section == "curve" {
                guard let value = entry.value else {
                    throw error(source, line: line.number, "the value of \(entry.name) is malformed: write \(entry.name) = \"<key>\"")
                }
                let key = try key(value, role: role.role, source: source, line: line.number)
                switch role {
                case .publicKey: found.publicKeys.append(.init(key: key, line: line.number))
                case .secretKey: found.secretKeys.append(.init(key: key, line: line.number))
                }
                continue
            }
            if let firstHeader, line.number < firstHeader { continue }
            // Before other settings: a key holds `=`, and one cut short must not pass for a setting.
            if let why = wrongKeyLength(line.text) {
                throw error(source, line: line.number, why)
            }
            // Other settings, such as zcert's metadata, are no concern here.
            if entry != nil { continue }
            if line.text.allSatisfy(nameCharacters.contains) {
                if line.indent == 0 { section = line.text }
                continue
            }
            throw error(source, line: line.number, "not a key, a name = \"value\" setting, a section name or a # comment")
        }
        if let awaited = pending {
            throw error(source, line: awaited.line, "\(awaited.header.text) is not followed by a key")
        }
        return found
    }
}
