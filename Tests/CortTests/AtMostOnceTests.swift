import Foundation
import Testing
@testable import Cort

/// What a method throws is its answer, whatever its type: a call failover
/// would move (`overloaded`, `shuttingDown`: "the node did not run it")
/// must never be moved when a method said it, or it runs again elsewhere.
@Suite struct AtMostOnceTests {
    static let movable: [RemoteCallError.Code] = [.overloaded, .shuttingDown]

    @Test(arguments: movable)
    func aMethodThatThrowsAMovableCodeRunsExactlyOnce(code: RemoteCallError.Code) async throws {
        try await withNodes(3, host: { node, _ in
            try await node.host("charger", replicas: 2) { Charger(actorSystem: $0) }
        }) { _, caller in
            let charger = try Charger.resolve(id: .service("charger"), using: caller)
            for idempotent in [false, true] {
                let key = "charge-\(code)-\(idempotent)-\(UUID())"
                do {
                    _ = idempotent
                        ? try await charger.refund(key, failingWith: code.wireValue)
                        : try await charger.charge(key, failingWith: code.wireValue)
                    Issue.record("the call returned")
                } catch let error as RemoteCallError {
                    #expect(error.code == .remoteApplicationError, "\(error)")
                    let cause = try #require(error.cause as? RemoteCallError, "the method's own error is the cause")
                    #expect(cause.code == code)
                    #expect(cause.message == "the payment service said so")
                    #expect(error.message.contains("threw RemoteCallError(\(code))"), "\(error.message)")
                }
                let runs = Observations.shared.events(key)
                #expect(runs.count == 1, "ran once (idempotent: \(idempotent)), not on every node: \(runs)")
            }
        }
    }

    @Test func theNodesRefusalsStillMoveACallThatNeverRan() async throws {
        // A draining node refuses with shuttingDown before the method starts:
        // that one may move, and the call runs once, on the other node.
        try await withNodes(2, host: { node, _ in
            try await node.host("ledger", replicas: 2) { Ledger(actorSystem: $0) }
        }) { nodes, caller in
            let ledger = try Ledger.resolve(id: .service("ledger"), using: caller)
            // Both nodes known and live before one drains (each takes calls
            // once its first pong is read: a deadline, not a count of calls).
            var seen = Set<String>()
            let deadline = ContinuousClock.now + .seconds(10)
            while seen.count < 2 && ContinuousClock.now < deadline {
                seen.insert(try await ledger.read("warm-\(UUID())"))
            }
            #expect(seen.count == 2)
            let drained = try #require(nodes[0].endpoint)
            await nodes[0].shutdown()
            for index in 0..<10 {
                let key = "after-drain-\(index)-\(UUID())"
                let answeredBy = try await ledger.append(key)
                #expect(answeredBy != drained)
                #expect(Observations.shared.events(key).count == 1)
            }
        }
    }
}
