// The Swift snippets of docs/SECURITY.md, compiled (see README.swift).
import Cort
import Distributed

distributed actor Accounts: CortService {
    typealias ActorSystem = CortSystem
    distributed func balance(of account: String) -> Int { 0 }
    distributed func close(_ account: String) {}
}

struct NotAnAuditor: Error, Codable {}

func startSecureNode(discovery: any Discovery) async throws -> CortSystem {
    // snippet: SECURITY-node
    let keys = try CurveKeyPair(contentsOfFile: "/etc/cort/accounts.key")
    let allowed = try CallerAllowList(contentsOfFile: "/etc/cort/accounts.allowed")
    let node = try CortSystem.start(.init(
        name: "accounts-1", discovery: discovery, endpoint: "tcp://0.0.0.0:5555",
        security: .curve(keyPair: keys, allowedCallers: allowed)))
    try await node.host(Accounts.self, replicas: 4) { Accounts(actorSystem: $0) }
    // end snippet
    return node
}

func startSecureCaller(discovery: any Discovery) async throws -> Int {
    // snippet: SECURITY-caller
    let caller = try CortSystem.start(.init(
        name: "billing-1", discovery: discovery,
        security: .curve(keyPair: try CurveKeyPair(contentsOfFile: "/etc/cort/billing.key"))))
    let accounts = try Accounts.service(in: caller)
    let balance = try await accounts.balance(of: "ada")
    // end snippet
    return balance
}

func hostWithRules(on node: CortSystem) async throws {
    let billing = try CurveKey(contentsOfPublicKeyFile: "/etc/cort/billing.pub")
    let reports = try CurveKey(contentsOfPublicKeyFile: "/etc/cort/reports.pub")
    // snippet: SECURITY-access
    try await node.host(Accounts.self, replicas: 4,
                        access: .callers([billing, reports])              // only these two callers
                            .allowing([billing], toCall: "close(_:)"))     // and only billing closes
    { Accounts(actorSystem: $0) }
    // end snippet
}

// snippet: SECURITY-caller-identity
distributed actor Audit: CortService {
    typealias ActorSystem = CortSystem
    let auditors: Set<CurveKey>

    init(actorSystem: CortSystem, auditors: Set<CurveKey>) {
        self.actorSystem = actorSystem
        self.auditors = auditors
    }

    distributed func trail(of account: String) throws -> [String] {
        // Proved by the handshake; nil only on a plaintext system.
        guard let caller = CallContext.current?.caller.publicKey, auditors.contains(caller) else {
            throw NotAnAuditor()
        }
        return []
    }
}
// end snippet
