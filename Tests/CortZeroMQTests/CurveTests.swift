import Testing
@testable import CortZeroMQ

@Suite struct CurveTests {
    @Test func libzmqHasCurve() {
        #expect(ZeroMQ.hasCurve)
        #expect(ZeroMQ.version.major == 4)
    }

    @Test func generatedKeysRoundTripThroughZ85() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.z85.count == 40)
        #expect(pair.publicKey.rawBytes.count == 32)
        #expect(try CurveKey(z85: pair.secretKey.z85) == pair.secretKey)
        #expect(try CurveKey(rawBytes: pair.publicKey.rawBytes) == pair.publicKey)
        #expect(try CurveKeyPair(secretKey: pair.secretKey).publicKey == pair.publicKey)
        #expect(pair.publicKey != pair.secretKey)
        #expect(!"\(pair.secretKey)".contains(pair.secretKey.z85))
    }

    @Test(arguments: ["short", String(repeating: "~", count: 40), String(repeating: "a", count: 41)])
    func invalidZ85KeysAreRejected(text: String) {
        do {
            _ = try CurveKey(z85: text)
            Issue.record("accepted \(text)")
        } catch let error as ZeroMQError {
            #expect(error.code == .invalidKey)
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func rawKeysMustHave32Bytes() {
        #expect(throws: ZeroMQError.self) { _ = try CurveKey(rawBytes: [1, 2, 3]) }
    }

    /// A CURVE server ROUTER and a DEALER client; returns the client's reply,
    /// if the server got the request within `window`.
    private func exchange(within window: Duration, serverKeyForClient: (CurveKeyPair) -> CurveKey) throws -> [[UInt8]]? {
        let context = try ZeroMQContext()
        let serverPair = try CurveKeyPair.generate()
        let clientPair = try CurveKeyPair.generate()

        let server = try ZeroMQSocket(.router, context: context)
        try server.set(.curveServer, true)
        try server.set(.curveSecretKey, serverPair.secretKey)
        #expect(try server.get(.curveServer))
        let endpoint = try server.bind("tcp://127.0.0.1:*")

        let client = try ZeroMQSocket(.dealer, context: context)
        try client.set(.curveServerKey, serverKeyForClient(serverPair))
        try client.set(.curvePublicKey, clientPair.publicKey)
        try client.set(.curveSecretKey, clientPair.secretKey)
        #expect(try client.get(.curvePublicKey) == clientPair.publicKey)
        try client.connect(endpoint)

        #expect(try client.trySend(ZeroMQMessage([bytes("secret request")])) == nil)
        guard var request = try receive(server, within: window) else { return nil }
        let peer = request.removeFirst()
        #expect(request.frame(at: 0) == bytes("secret request"))
        #expect(try server.trySend(ZeroMQMessage([peer, bytes("secret reply")])) == nil)
        return try receiveFrames(client)
    }

    /// The handshake and the request may take a loaded machine a while: it
    /// has 10 s (the wait ends as soon as the request is there).
    @Test func encryptedRoundTrip() throws {
        #expect(try exchange(within: .seconds(10)) { $0.publicKey } == [bytes("secret reply")])
    }

    /// An observation window: nothing may arrive in it.
    @Test func wrongServerKeyGetsNoReply() throws {
        let impostor = try CurveKeyPair.generate()
        #expect(try exchange(within: .seconds(1)) { _ in impostor.publicKey } == nil)
    }
}
