internal import CZeroMQ

/// A CURVE public/secret key pair.
///
/// ```swift
/// let server = try CurveKeyPair.generate()
/// try router.set(.curveServer, true)
/// try router.set(.curveSecretKey, server.secretKey)
/// // Give `server.publicKey.z85` to clients.
/// ```
public struct CurveKeyPair: Sendable, Hashable {
    /// The public half, shared with peers.
    public let publicKey: CurveKey
    /// The secret half, never shared.
    public let secretKey: CurveKey

    /// A pair from its two halves (not checked to match; see ``init(secretKey:)``).
    public init(publicKey: CurveKey, secretKey: CurveKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// The pair of `secretKey`, deriving its public key (`zmq_curve_public`).
    /// - Throws: ``ZeroMQError/Code/notSupported`` if libzmq lacks CURVE.
    public init(secretKey: CurveKey) throws {
        var publicText = [CChar](repeating: 0, count: 41)
        let secretText = Array(secretKey.z85.utf8CString)
        try ZeroMQCall.int("zmq_curve_public") { zmq_curve_public(&publicText, secretText) }
        self.publicKey = try CurveKey(z85: String(decoding: publicText.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self))
        self.secretKey = secretKey
    }

    /// A fresh random key pair (`zmq_curve_keypair`).
    /// - Throws: ``ZeroMQError/Code/notSupported`` if libzmq lacks CURVE.
    public static func generate() throws -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        try ZeroMQCall.int("zmq_curve_keypair") { zmq_curve_keypair(&publicText, &secretText) }
        func text(_ chars: [CChar]) -> String {
            String(decoding: chars.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return CurveKeyPair(publicKey: try CurveKey(z85: text(publicText)), secretKey: try CurveKey(z85: text(secretText)))
    }
}
