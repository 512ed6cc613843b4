import Cort
import Foundation

/// Fresh CURVE keys for a benchmark: a node's pair and one caller's pair, and
/// an allow-list file naming the caller, for a `cort-bench-node` started with
/// `curve` (which reads ``nodeEnvironment``).
///
/// ```swift
/// let keys = try CurveKeys()
/// defer { keys.remove() }
/// let node = try ServerProcess.benchNode(curve: keys)
/// let calls = try await TypedCalls.connect(to: node.endpoint, payloadSize: 64, security: keys.callerSecurity)
/// ```
public struct CurveKeys: Sendable {
    /// The node's long-term keys.
    public let node: CurveKeyPair
    /// The caller's long-term keys (the only key the node lets in).
    public let caller: CurveKeyPair
    /// The node's allow-list file: the caller's public key.
    public let allowedCallersFile: URL

    /// Generates both pairs and writes the allow-list file in the temporary folder.
    public init() throws {
        node = try CurveKeyPair.generate()
        caller = try CurveKeyPair.generate()
        allowedCallersFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("cort-bench-allowed-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0 ... .max))")
        try Data("\(caller.publicKey.z85)\n".utf8).write(to: allowedCallersFile)
    }

    /// What `cort-bench-node … curve` reads: the variables cort's own
    /// configuration reader uses for the same settings.
    public var nodeEnvironment: [String: String] {
        [CurveKeys.secretKeyVariable: node.secretKey.z85, CurveKeys.allowedCallersFileVariable: allowedCallersFile.path]
    }

    /// The caller's security: CURVE with its key pair.
    public var callerSecurity: Security { .curve(keyPair: caller) }

    /// Deletes the allow-list file (the node reads it only when it starts,
    /// and when it changes).
    public func remove() {
        try? FileManager.default.removeItem(at: allowedCallersFile)
    }

    /// The node's secret key, 40 characters of Z85.
    public static let secretKeyVariable = "CORT_CURVE_SECRET_KEY"
    /// The path of the node's allow-list file, one public key a line.
    public static let allowedCallersFileVariable = "CORT_CURVE_ALLOWED_CALLERS_FILE"
}

extension ServerProcess {
    /// Starts a `cort-bench-node` with `replicas` replicas of `Echo` on
    /// `executor` (the default of `CortSystem.host(...)`: the reactor),
    /// in plaintext, or with CURVE and `curve`'s keys. The node's
    /// ``endpoint`` is then `tcp://…|<node public key>`, the form
    /// `StaticDiscovery` takes.
    public static func benchNode(
        replicas: Int = 4, executor: String = "reactor", curve: CurveKeys? = nil
    ) throws -> ServerProcess {
        try ServerProcess(executable: executable(named: "cort-bench-node"),
                          arguments: ["tcp://127.0.0.1:0", "\(replicas)", executor, curve == nil ? "plaintext" : "curve"],
                          environment: curve?.nodeEnvironment ?? [:])
    }
}
