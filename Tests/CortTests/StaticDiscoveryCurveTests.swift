import Testing
@testable import Cort

/// `StaticDiscovery`'s `endpoint|key` entries: a CURVE node's public key
/// given with its endpoint, in code and in the environment variable.
@Suite(.timeLimit(.minutes(1))) struct StaticDiscoveryCurveTests {
    private func firstList(_ discovery: StaticDiscovery, _ service: String) async throws -> [ServiceInstance]? {
        var iterator = discovery.watch(service: service).makeAsyncIterator()
        return try await iterator.next()
    }

    /// Forty characters that are not a key: a real secret key with one
    /// character that Z85 does not have, as a mangled paste would be.
    private static func mangledSecret() throws -> String {
        var text = Array(try CurveKeyPair.generate().secretKey.z85)
        text[17] = "~"
        return String(text)
    }

    @Test func aKeyAfterTheBarGoesToTheInstancesMetadata() async throws {
        let node = try CurveKeyPair.generate()
        let discovery = try StaticDiscovery([
            "greeter": ["tcp://127.0.0.1:5555|\(node.publicKey.z85)", "tcp://127.0.0.1:5556"],
        ])
        let instances = try #require(try await firstList(discovery, "greeter"))
        #expect(instances.map(\.endpoint) == ["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"])
        #expect(instances.map(\.id) == ["greeter@tcp://127.0.0.1:5555", "greeter@tcp://127.0.0.1:5556"],
                "the id is made of the endpoint alone, not the key")
        #expect(instances[0].metadata == [ServiceInstance.curveKeyMetadataKey: node.publicKey.z85])
        #expect(instances[0].curvePublicKey == node.publicKey)
        #expect(instances[1].metadata[ServiceInstance.curveKeyMetadataKey] == nil)
        #expect(instances[1].curvePublicKey == nil)
    }

    @Test func spacesAroundTheBarAreTrimmed() async throws {
        let node = try CurveKeyPair.generate()
        let discovery = try StaticDiscovery(["greeter": ["  tcp://127.0.0.1:5555 |\t\(node.publicKey.z85)  "]])
        let instance = try #require(try await firstList(discovery, "greeter")?.first)
        #expect(instance.endpoint == "tcp://127.0.0.1:5555")
        #expect(instance.curvePublicKey == node.publicKey)
    }

    @Test func keysComeFromTheEnvironmentVariableToo() async throws {
        let first = try CurveKeyPair.generate()
        let second = try CurveKeyPair.generate()
        let discovery = try StaticDiscovery(environment: [
            "CORT_STATIC_SERVICES": " greeter = tcp://127.0.0.1:5555 | \(first.publicKey.z85) , tcp://127.0.0.1:5556 ;"
                + "echo=tcp://127.0.0.1:6000|\(second.publicKey.z85)",
        ])
        let greeter = try #require(try await firstList(discovery, "greeter"))
        #expect(greeter.map(\.endpoint) == ["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"])
        #expect(greeter.map(\.curvePublicKey) == [first.publicKey, nil])
        let echo = try #require(try await firstList(discovery, "echo"))
        #expect(echo.map(\.endpoint) == ["tcp://127.0.0.1:6000"])
        #expect(echo.first?.metadata[ServiceInstance.curveKeyMetadataKey] == second.publicKey.z85)
    }

    @Test func oneEndpointWithTwoKeysIsListedTwice() throws {
        let (first, second) = (try CurveKeyPair.generate(), try CurveKeyPair.generate())
        let error = #expect(throws: DiscoveryError.self) {
            try StaticDiscovery(["greeter": [
                "tcp://127.0.0.1:5555|\(first.publicKey.z85)",
                "tcp://127.0.0.1:5555|\(second.publicKey.z85)",
            ]])
        }
        #expect(error?.code == .invalidInstance)
        #expect(error?.message.contains("listed twice") == true, "\(String(describing: error))")
    }

    @Test(arguments: ["abc", "", "mangled"])
    func aBadKeyInCodeIsRefusedNamingTheEndpoint(text: String) throws {
        let bad = text == "mangled" ? try Self.mangledSecret() : text
        let error = #expect(throws: DiscoveryError.self) {
            try StaticDiscovery(["greeter": ["tcp://127.0.0.1:5555|\(bad)"]])
        }
        #expect(error?.code == .invalidInstance)
        let message = error?.message ?? ""
        #expect(message.contains("tcp://127.0.0.1:5555"), "\(message)")
        #expect(message.contains("greeter"), "\(message)")
        #expect(message.contains("40 characters of Z85"), "\(message)")
        if !bad.isEmpty {
            #expect(!message.contains(bad), "the message repeats what may be a secret: \(message)")
            #expect(!(error.map { "\($0)" } ?? "").contains(bad))
        }
    }

    @Test func aBadKeyInTheEnvironmentIsRefusedNamingTheVariableAndTheEndpoint() throws {
        let bad = try Self.mangledSecret()
        let error = #expect(throws: DiscoveryError.self) {
            try StaticDiscovery(environment: ["CORT_STATIC_SERVICES": "greeter=tcp://127.0.0.1:5555|\(bad)"])
        }
        #expect(error?.code == .malformedConfiguration)
        let message = error?.message ?? ""
        #expect(message.hasPrefix("CORT_STATIC_SERVICES: "), "\(message)")
        #expect(message.contains("tcp://127.0.0.1:5555"), "\(message)")
        #expect(message.contains("40 characters of Z85"), "\(message)")
        #expect(!message.contains(bad), "the message repeats what may be a secret: \(message)")
        #expect((error?.cause as? DiscoveryError)?.code == .invalidInstance)
    }
}
