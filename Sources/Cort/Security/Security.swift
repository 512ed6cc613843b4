#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How a system's calls are protected on the wire.
///
/// - ``plaintext``: no encryption, no authentication. For one machine and
///   tests: any process that reaches a node's port can call it.
/// - ``curve(keyPair:allowedCallers:)``: ZeroMQ's CURVE. Every connection is
///   encrypted and both of its ends authenticated: a caller talks only to
///   nodes whose public key discovery published, a node accepts only
///   callers whose public key is in its allow-list, and a method learns its
///   caller's key from ``CallContext/caller``. See docs/SECURITY.md.
///
/// ```swift
/// let keys = try CurveKeyPair(contentsOfFile: "/etc/cort/orders.key")
/// let allowed = try CallerAllowList(contentsOfFile: "/etc/cort/allowed-callers")
/// let node = try CortSystem.start(.init(
///     name: "orders-1", discovery: discovery, endpoint: "tcp://0.0.0.0:5555",
///     security: .curve(keyPair: keys, allowedCallers: allowed)))
/// ```
///
/// All systems of a cluster use the same kind: a plaintext caller cannot
/// reach a CURVE node, nor a CURVE caller a plaintext one.
public struct Security: Sendable, CustomStringConvertible {
    enum Mode: Sendable {
        case plaintext
        case curve(keyPair: CurveKeyPair, allowedCallers: CallerAllowList?)
    }

    let mode: Mode

    /// No encryption and no authentication (the default).
    public static let plaintext = Security(mode: .plaintext)

    /// CURVE with this system's key pair.
    ///
    /// - Parameters:
    ///   - keyPair: the system's long-term keys: a node serves with them (its
    ///     public key goes to discovery), a caller presents them to nodes.
    ///   - allowedCallers: the callers a node lets in. A system that serves
    ///     needs one (starting it without fails with
    ///     ``ConfigurationError/Code/invalidKey``); one that only calls does not.
    public static func curve(keyPair: CurveKeyPair, allowedCallers: CallerAllowList? = nil) -> Security {
        Security(mode: .curve(keyPair: keyPair, allowedCallers: allowedCallers))
    }

    /// Whether calls are encrypted and authenticated.
    public var isEncrypted: Bool {
        if case .curve = mode { return true }
        return false
    }

    /// This system's public key with CURVE, nil in plaintext.
    public var publicKey: CurveKey? {
        if case .curve(let keys, _) = mode { return keys.publicKey }
        return nil
    }

    /// The key pair with CURVE; `package` for the `cort` tool's pings.
    package var keyPair: CurveKeyPair? {
        if case .curve(let keys, _) = mode { return keys }
        return nil
    }

    var allowedCallers: CallerAllowList? {
        if case .curve(_, let allowed) = mode { return allowed }
        return nil
    }

    /// `plaintext`, or `curve(<public key>)`: never the secret key.
    public var description: String {
        switch mode {
        case .plaintext: "plaintext"
        case .curve(let keys, _): "curve(\(keys.publicKey.z85))"
        }
    }
}

extension ServiceInstance {
    /// The metadata key under which a CURVE node publishes its public key
    /// (40 characters of Z85): `cort_curve_key`.
    public static let curveKeyMetadataKey = "cort_curve_key"

    /// The node's CURVE public key as its instance publishes it; nil when it
    /// publishes none or one that is not a valid key.
    public var curvePublicKey: CurveKey? {
        metadata[Self.curveKeyMetadataKey].flatMap { try? CurveKey(z85: $0) }
    }
}

extension Security {
    /// The security the environment asks for: CURVE when
    /// `CORT_CURVE_SECRET_KEY_FILE` (a key file) or `CORT_CURVE_SECRET_KEY`
    /// (the secret key in Z85) is set, with the allow-list of
    /// `CORT_CURVE_ALLOWED_CALLERS_FILE` when that is set; plaintext when
    /// none is. ``CortSystem/Configuration/init(config:discovery:clock:logger:)``
    /// reads the same settings.
    ///
    /// ```swift
    /// // CORT_CURVE_SECRET_KEY_FILE=orders.key CORT_CURVE_ALLOWED_CALLERS_FILE=orders.allowed ./orders
    /// let node = try CortSystem.start(.init(name: "orders-1", discovery: discovery, endpoint: "tcp://0.0.0.0:5555",
    ///                                       security: try .fromEnvironment()))
    /// ```
    ///
    /// - Throws: ``ConfigurationError/Code/invalidKey`` for a key or file that
    ///   cannot be read (naming the variable or file, never the secret), both
    ///   kinds of secret key set, or an allow-list without a secret key.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> Security {
        try make(secretKeyFile: environment["CORT_CURVE_SECRET_KEY_FILE"].nonEmpty,
                 secretKey: environment["CORT_CURVE_SECRET_KEY"].nonEmpty,
                 allowedCallersFile: environment["CORT_CURVE_ALLOWED_CALLERS_FILE"].nonEmpty,
                 names: ("CORT_CURVE_SECRET_KEY_FILE", "CORT_CURVE_SECRET_KEY", "CORT_CURVE_ALLOWED_CALLERS_FILE"))
    }

    /// CURVE from a secret key (a file or the text) and an allow-list file;
    /// plaintext when neither key is given. `names` are the settings'
    /// names, for errors.
    static func make(
        secretKeyFile: String?, secretKey: String?, allowedCallersFile: String?,
        names: (file: String, key: String, allowed: String)
    ) throws(ConfigurationError) -> Security {
        let keys: CurveKeyPair
        switch (secretKeyFile, secretKey) {
        case (nil, nil):
            if allowedCallersFile != nil {
                throw ConfigurationError(.invalidKey, "\(names.allowed) is set without a secret key "
                                         + "(\(names.file) or \(names.key))")
            }
            return .plaintext
        case (_?, _?):
            throw ConfigurationError(.invalidKey, "both \(names.file) and \(names.key) are set; give one")
        case (let path?, nil):
            keys = try CurveKeyPair(contentsOfFile: path)
        case (nil, let text?):
            do {
                keys = try CurveKeyPair(secretKey: CurveKey(z85: text.trimmingCharacters(in: .whitespacesAndNewlines)))
            } catch {
                throw ConfigurationError(.invalidKey, "\(names.key) is not a CURVE secret key (40 characters of Z85)")
            }
        }
        let allowed = try allowedCallersFile.map { (path) throws(ConfigurationError) in
            try CallerAllowList(contentsOfFile: path)
        }
        return .curve(keyPair: keys, allowedCallers: allowed)
    }
}

extension Optional where Wrapped == String {
    /// nil for nil or "", so an empty variable counts as unset.
    fileprivate var nonEmpty: String? {
        guard let self, !self.isEmpty else { return nil }
        return self
    }
}
