// The Swift snippets of docs/CALLS.md, compiled (see README.swift).
import Cort
import Distributed

struct Order: Codable, Sendable {
    var total: Int
}

struct Receipt: Codable, Sendable {
    var paid: Int
}

distributed actor Payments: CortService {
    typealias ActorSystem = CortSystem
    distributed func charge(_ amount: Int) -> Receipt { Receipt(paid: amount) }
}

// snippet: CALLS-context
distributed actor Orders: CortService {
    typealias ActorSystem = CortSystem
    distributed func place(_ order: Order) async throws -> Receipt {
        let context = CallContext.current                // nil when called locally
        let payments = try Payments.service(in: actorSystem)
        // Calls made here get what is left of this call's deadline (a shorter
        // timeout wins) and are cancelled with it. Metadata is forwarded
        // only when the method says so:
        return try await withCallOptions(metadata: context?.metadata ?? [:]) {
            try await payments.charge(order.total)
        }
    }
}
// end snippet

// snippet: CALLS-idempotent-methods
distributed actor Ledger: CortService, IdempotentMethods {
    typealias ActorSystem = CortSystem
    static let idempotentMethods: Set<String> = ["balance(of:)"]
    var balances: [String: Int] = [:]

    distributed func balance(of account: String) -> Int {    // may run twice
        balances[account, default: 0]
    }

    distributed func deposit(_ amount: Int, to account: String) {  // never twice
        balances[account, default: 0] += amount
    }
}
// end snippet

func depositOnce(on ledger: Ledger) async throws {
    // snippet: CALLS-idempotent-call
    try await withCallOptions(idempotent: true) {
        try await ledger.deposit(10, to: "ada")   // this caller de-duplicates deposits itself
    }
    // end snippet
}

func tunedCaller(discovery: any Discovery) throws -> CortSystem {
    // snippet: CALLS-tuning
    var configuration = CortSystem.Configuration(name: "caller", discovery: discovery)
    configuration.heartbeat = HeartbeatConfiguration(interval: .milliseconds(250), liveness: 4)  // dead after 1 s of silence
    configuration.callLimits = CallLimits(perNode: 256, perService: 2048, whenFull: .failFast)
    // end snippet
    return try CortSystem.start(configuration)
}
