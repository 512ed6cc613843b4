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

// snippet: CALLS-client-interceptor
struct BearerToken: ClientInterceptor {
    let token: String
    func intercept(_ call: ClientCall,
                   next: (ClientCall) async throws -> ClientCallResult) async throws -> ClientCallResult {
        var call = call
        call.metadata["authorization"] = "Bearer \(token)"
        return try await next(call)
    }
}
// end snippet

// snippet: CALLS-server-interceptor
struct RequireToken: ServerInterceptor {
    let token: String
    func intercept(_ call: ServerCall,
                   next: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult {
        guard call.context.metadata["authorization"] == "Bearer \(token)" else {
            // Thrown before `next`: the method does not run, and the caller gets this code.
            throw RemoteCallError(.permissionDenied, "a token is needed")
        }
        return try await next(call)
    }
}
// end snippet

func interceptedSystems(discovery: any Discovery) async throws {
    // snippet: CALLS-interceptors-setup
    let caller = try CortSystem.start(.init(name: "billing", discovery: discovery,
                                            clientInterceptors: [BearerToken(token: "s3cret")]))
    let node = try CortSystem.start(.init(name: "orders-1", discovery: discovery, endpoint: "tcp://0.0.0.0:5555"))
    try await node.host(Orders.self, replicas: 4, interceptors: [RequireToken(token: "s3cret")]) {
        Orders(actorSystem: $0)
    }
    // end snippet
    _ = caller
}

func explainFailure(_ orders: Orders) async {
    // snippet: CALLS-attempts
    do {
        _ = try await orders.place(Order(total: 12))
    } catch let error as RemoteCallError {
        // "RemoteCallError(outcome unknown): … ; attempts: orders@node-a …: answered overloaded at +0.0 ms for 1.2 ms;
        //  orders@node-b …: node failed (its connection is gone) at +1.3 ms for 40.7 ms"
        print(error)
        for attempt in error.attempts { print(attempt.node, attempt.outcome, attempt.duration) }
    } catch {
        print(error)
    }
    // end snippet
}
