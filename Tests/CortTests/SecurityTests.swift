import Distributed
import Foundation
import Testing
@testable import Cort

/// A service that records every call it runs under the test's key, and
/// says who called it.
distributed actor Vault {
    typealias ActorSystem = CortSystem

    /// The caller's public key as the node knew it (Z85), or "plaintext".
    distributed func whoCalls(_ test: String) -> String {
        Observations.shared.record(test, "whoCalls")
        return CallContext.current?.caller.publicKey?.z85 ?? "plaintext"
    }

    distributed func reset(_ test: String) -> Bool {
        Observations.shared.record(test, "reset")
        return true
    }

    distributed func fail(_ test: String) throws -> Int {
        Observations.shared.record(test, "fail")
        throw VaultInternalError(detail: "vault-internal-detail")
    }
}

/// An error no system registers: with security on, its type and text stay on the node.
struct VaultInternalError: Error {
    let detail: String
}

@Suite("CURVE security: who may call, and what a refused caller sees")
struct SecurityTests {
    /// A CURVE node hosting `Vault` for `allowed`, on one LocalDiscovery, and
    /// a caller system per key in `callers` (nil: plaintext).
    func withVault<R>(
        allowing allowed: CallerAllowList,
        access: ServiceAccess = .anyAllowedCaller,
        callers: [CurveKeyPair?],
        timeout: Duration = .seconds(30),
        _ body: (CortSystem, [CortSystem]) async throws -> R
    ) async throws -> R {
        let discovery = LocalDiscovery()
        let node = try CortSystem.start(.init(
            name: "vault-node", discovery: discovery, endpoint: "tcp://127.0.0.1:0",
            security: .curve(keyPair: try CurveKeyPair.generate(), allowedCallers: allowed)))
        var systems: [CortSystem] = []
        do {
            try await node.host("vault", replicas: 2, access: access) { Vault(actorSystem: $0) }
            for (index, keys) in callers.enumerated() {
                systems.append(try CortSystem.start(.init(
                    name: "caller-\(index)", discovery: discovery, defaultTimeout: timeout,
                    security: keys.map { .curve(keyPair: $0) } ?? .plaintext)))
            }
            let result = try await body(node, systems)
            for system in systems { await system.shutdown() }
            await node.shutdown()
            return result
        } catch {
            for system in systems { await system.shutdown() }
            await node.shutdown()
            throw error
        }
    }

    func vault(in system: CortSystem) throws -> Vault {
        try Vault.resolve(id: .service("vault"), using: system)
    }

    @Test("a caller whose key is allowed is served, and the method knows its key")
    func allowedCallerIsServed() async throws {
        let test = "security-allowed-\(UUID())"
        let callerKeys = try CurveKeyPair.generate()
        try await withVault(allowing: CallerAllowList([callerKeys.publicKey]), callers: [callerKeys]) { _, callers in
            let seen = try await vault(in: callers[0]).whoCalls(test)
            #expect(seen == callerKeys.publicKey.z85)
            #expect(Observations.shared.events(test) == ["whoCalls"])
        }
    }

    @Test("a caller with a key the node does not allow is refused at the handshake, fast, and nothing runs")
    func unknownKeyIsRefused() async throws {
        let test = "security-unknown-\(UUID())"
        let stranger = try CurveKeyPair.generate()
        try await withVault(allowing: CallerAllowList([try CurveKeyPair.generate().publicKey]),
                            callers: [stranger]) { node, callers in
            let started = ContinuousClock.now
            let error = await #expect(throws: RemoteCallError.self) {
                _ = try await vault(in: callers[0]).whoCalls(test)
            }
            #expect(error?.code == .transport)
            #expect(error?.message.contains("refused this caller's key") == true, "\(String(describing: error))")
            // Well before the 30 s deadline: the handshake's failure is the answer.
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(Observations.shared.events(test).isEmpty)
            #expect(await node.authenticator?.counters.refused ?? 0 >= 1)
            let requests = try await node.nodeServer().counters.requests
            #expect(requests == 0)
        }
    }

    @Test("a plaintext caller is refused a CURVE node: discovery says it needs CURVE, and nothing runs")
    func plaintextCallerIsRefused() async throws {
        let test = "security-plaintext-\(UUID())"
        try await withVault(allowing: CallerAllowList([]), callers: [nil]) { node, callers in
            let error = await #expect(throws: RemoteCallError.self) {
                _ = try await vault(in: callers[0]).whoCalls(test)
            }
            #expect(error?.code == .transport)
            #expect(error?.message.contains("requires CURVE") == true, "\(String(describing: error))")
            #expect(Observations.shared.events(test).isEmpty)
            let requests = try await node.nodeServer().counters.requests
            #expect(requests == 0)
        }
    }

    @Test("a plaintext caller that does not know the node uses CURVE fails at the handshake, not at its deadline")
    func plaintextCallerWithoutKeyFailsAtHandshake() async throws {
        let test = "security-plaintext-static-\(UUID())"
        try await withVault(allowing: CallerAllowList([]), callers: []) { node, _ in
            let endpoint = try #require(node.endpoint)
            let caller = try CortSystem.start(.init(
                name: "plain", discovery: try StaticDiscovery(["vault": [endpoint]]), defaultTimeout: .seconds(30)))
            defer { Task { await caller.shutdown() } }
            let started = ContinuousClock.now
            let error = await #expect(throws: RemoteCallError.self) {
                _ = try await vault(in: caller).whoCalls(test)
            }
            #expect(error?.code == .transport)
            #expect(error?.message.contains("handshake") == true, "\(String(describing: error))")
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(Observations.shared.events(test).isEmpty)
            await caller.shutdown()
        }
    }

    @Test("a caller that expects another server key fails with a handshake error naming the node")
    func wrongServerKeyIsRefused() async throws {
        let test = "security-wrong-server-\(UUID())"
        let callerKeys = try CurveKeyPair.generate()
        try await withVault(allowing: CallerAllowList([callerKeys.publicKey]), callers: []) { node, _ in
            let endpoint = try #require(node.endpoint)
            let impostorKey = try CurveKeyPair.generate().publicKey
            let caller = try CortSystem.start(.init(
                name: "misled", discovery: try StaticDiscovery(["vault": ["\(endpoint)|\(impostorKey.z85)"]]),
                defaultTimeout: .seconds(30), security: .curve(keyPair: callerKeys)))
            let started = ContinuousClock.now
            let error = await #expect(throws: RemoteCallError.self) {
                _ = try await vault(in: caller).whoCalls(test)
            }
            await caller.shutdown()
            #expect(error?.code == .transport)
            #expect(error?.message.contains("CURVE handshake with node vault@\(endpoint)") == true,
                    "\(String(describing: error))")
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(Observations.shared.events(test).isEmpty)
        }
    }

    @Test("a key taken out of the allow-list file loses access within a second, on its open connection and on new ones")
    func revokedKeyLosesAccess() async throws {
        let test = "security-revoked-\(UUID())"
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cort-revoke-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("allowed-callers").path
        let alice = try CurveKeyPair.generate()
        let bob = try CurveKeyPair.generate()
        try "# callers of the vault\n\(alice.publicKey.z85)  # alice\n\(bob.publicKey.z85)  # bob\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let allowList = try CallerAllowList(contentsOfFile: path)
        try await withVault(allowing: allowList, callers: [alice, bob]) { node, callers in
            let aliceSeen = try await vault(in: callers[0]).whoCalls(test)
            let bobSeen = try await vault(in: callers[1]).whoCalls(test)
            #expect(aliceSeen == alice.publicKey.z85 && bobSeen == bob.publicKey.z85)

            // Alice's open connection: her calls are refused once the node
            // re-read the file. Access is measured by when the calls that
            // still got in were made (a call made just before may run long on
            // a busy machine); on her system's reactor thread, so a busy
            // global pool does not stretch the loop itself.
            let aliceVault = try vault(in: callers[0])
            let (refusal, servedUntil) = await Task(executorPreference: callers[0].taskExecutor) {
                try? "\(bob.publicKey.z85)  # bob\n".write(toFile: path, atomically: true, encoding: .utf8)
                let rewritten = ContinuousClock.now
                var refusal: RemoteCallError?
                var servedUntil = Duration.zero
                while refusal == nil && ContinuousClock.now - rewritten < .seconds(10) {
                    let made = ContinuousClock.now - rewritten
                    do {
                        _ = try await aliceVault.whoCalls(test)
                        servedUntil = made
                    } catch {
                        refusal = error as? RemoteCallError
                    }
                }
                return (refusal, servedUntil)
            }.value
            #expect(refusal?.code == .permissionDenied, "\(String(describing: refusal))")
            #expect(servedUntil < .seconds(1), "a call alice made \(servedUntil) after the rewrite was served")
            // Bob still calls.
            let bobAgain = try await vault(in: callers[1]).whoCalls(test)
            #expect(bobAgain == bob.publicKey.z85)
            // A new connection of Alice's is refused at the handshake.
            let again = try CortSystem.start(.init(name: "alice-again", discovery: callers[0].configuration.discovery,
                                                   defaultTimeout: .seconds(30), security: .curve(keyPair: alice)))
            let error = await #expect(throws: RemoteCallError.self) {
                _ = try await vault(in: again).whoCalls(test)
            }
            await again.shutdown()
            #expect(error?.code == .transport)
            let denied = try await node.nodeServer().counters.denied
            #expect(denied >= 1)
        }
    }

    @Test("a call refused for permission is never moved to another node, idempotent or not")
    func permissionDeniedIsNotMoved() async throws {
        let test = "security-failover-\(UUID())"
        let callerKeys = try CurveKeyPair.generate()
        let allowed = CallerAllowList([callerKeys.publicKey])
        let discovery = LocalDiscovery()
        // Node 0 lets the caller connect but not call the vault; node 1 lets it call.
        var nodes: [CortSystem] = []
        for index in 0..<2 {
            nodes.append(try CortSystem.start(.init(
                name: "vault-\(index)", discovery: discovery, endpoint: "tcp://127.0.0.1:0",
                security: .curve(keyPair: try CurveKeyPair.generate(), allowedCallers: allowed))))
        }
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(30),
                                                security: .curve(keyPair: callerKeys)))
        do {
            try await nodes[0].host("vault", access: .callers([])) { Vault(actorSystem: $0) }
            try await nodes[1].host("vault") { Vault(actorSystem: $0) }
            let vault = try vault(in: caller)
            var served = 0
            var denied = 0
            // Until both nodes took some (the second may still be joining at first), within a bound.
            let started = ContinuousClock.now
            while (served < 5 || denied < 5) && ContinuousClock.now - started < .seconds(20) {
                do {
                    _ = try await withCallOptions(idempotent: true) { try await vault.reset(test) }
                    served += 1
                } catch let error as RemoteCallError where error.code == .permissionDenied {
                    denied += 1
                }
            }
            let deniedByNode0 = try await nodes[0].nodeServer().counters.denied
            let requestsOfNode1 = try await nodes[1].nodeServer().counters.requests
            #expect(denied > 0 && served > 0, "served \(served), denied \(denied)")
            // Each refused call was refused by node 0 once and never sent to node 1.
            #expect(deniedByNode0 == denied)
            #expect(requestsOfNode1 == served)
            #expect(Observations.shared.events(test).count == served)
        } catch {
            await caller.shutdown()
            for node in nodes { await node.shutdown() }
            throw error
        }
        await caller.shutdown()
        for node in nodes { await node.shutdown() }
    }

    @Test("access rules per service and per method, by caller key")
    func accessRules() async throws {
        let test = "security-access-\(UUID())"
        let admin = try CurveKeyPair.generate()
        let user = try CurveKeyPair.generate()
        let outsider = try CurveKeyPair.generate()
        let access = ServiceAccess.callers([admin.publicKey, user.publicKey])
            .allowing([admin.publicKey], toCall: "Vault.reset(_:)")
        let allowed = CallerAllowList([admin.publicKey, user.publicKey, outsider.publicKey])
        try await withVault(allowing: allowed, access: access, callers: [admin, user, outsider]) { _, callers in
            let adminReset = try await vault(in: callers[0]).reset(test)
            #expect(adminReset)
            let seen = try await vault(in: callers[1]).whoCalls(test)
            #expect(seen == user.publicKey.z85)
            let userReset = await #expect(throws: RemoteCallError.self) { _ = try await vault(in: callers[1]).reset(test) }
            #expect(userReset?.code == .permissionDenied)
            let outsiderCall = await #expect(throws: RemoteCallError.self) {
                _ = try await vault(in: callers[2]).whoCalls(test)
            }
            #expect(outsiderCall?.code == .permissionDenied)
            #expect(Observations.shared.events(test) == ["reset", "whoCalls"])
        }
    }

    @Test("with security on, a method's unregistered error reaches the caller as its code and a short message only")
    func errorsCarryNoInternals() async throws {
        let test = "security-redacted-\(UUID())"
        let callerKeys = try CurveKeyPair.generate()
        try await withVault(allowing: CallerAllowList([callerKeys.publicKey]), callers: [callerKeys]) { _, callers in
            let error = await #expect(throws: RemoteCallError.self) { _ = try await vault(in: callers[0]).fail(test) }
            #expect(error?.code == .remoteApplicationError)
            #expect(error?.message == "the method threw an error")
            #expect(error?.message.contains("VaultInternalError") == false)
            #expect(error?.message.contains("vault-internal-detail") == false)
        }
        // In plaintext the same error names its type (the control).
        try await withNodes(1, host: { node, _ in try await node.host("vault") { Vault(actorSystem: $0) } }) { _, caller in
            let error = await #expect(throws: RemoteCallError.self) { _ = try await vault(in: caller).fail(test) }
            #expect(error?.message.contains("VaultInternalError") == true)
        }
    }

    @Test("an actor reference handed out by a CURVE node carries the node's key, and is called over CURVE")
    func actorReferencesCarryTheNodeKey() async throws {
        let callerKeys = try CurveKeyPair.generate()
        let nodeKeys = try CurveKeyPair.generate()
        let discovery = LocalDiscovery()
        let node = try CortSystem.start(.init(
            name: "shapes-node", discovery: discovery, endpoint: "tcp://127.0.0.1:0",
            security: .curve(keyPair: nodeKeys, allowedCallers: CallerAllowList([callerKeys.publicKey]))))
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(30),
                                                security: .curve(keyPair: callerKeys)))
        do {
            try await node.host("shapes") { Shapes(actorSystem: $0) }
            let tally = try await Shapes.resolve(id: .service("shapes"), using: caller).makeTally()
            #expect(tally.id.nodeKey == nodeKeys.publicKey.z85)
            let first = try await tally.increment()
            let second = try await tally.increment()
            #expect((first, second) == (1, 2))
        } catch {
            await caller.shutdown()
            await node.shutdown()
            throw error
        }
        await caller.shutdown()
        await node.shutdown()
    }

    @Test("every code has a short message for strangers, without the original text")
    func redactedMessages() {
        let codes: [RemoteCallError.Code] = [.deadlineExceeded, .cancelled, .noNodes, .overloaded, .unknownTarget,
                                             .badArguments, .protocolError, .transport, .remoteApplicationError,
                                             .messageTooLarge, .shuttingDown, .outcomeUnknown, .permissionDenied]
        for code in codes {
            let failure = CallFailure(code: code, message: "Secret.Internal.Type: runtime text").redacted
            #expect(failure.code == code)
            #expect(!failure.message.contains("Secret") && !failure.message.isEmpty)
        }
        let registered = CallFailure(code: .remoteApplicationError, message: "m", errorType: "App.Err", errorPayload: [1])
        #expect(registered.redacted == registered)
    }

    @Test("a caller key's identity is its key: equal across connections, printable")
    func callerIdentity() throws {
        let key = try CurveKeyPair.generate().publicKey
        let first = CallerIdentity(routingID: Array("c:1".utf8), publicKey: key)
        let second = CallerIdentity(routingID: Array("c:2".utf8), publicKey: key)
        #expect(first == second)
        #expect(first.hashValue == second.hashValue)
        #expect(first.description == "curve:\(key.z85)")
        #expect(CallerIdentity(routingID: Array("c:1".utf8)) != CallerIdentity(routingID: Array("c:2".utf8)))
    }
}
