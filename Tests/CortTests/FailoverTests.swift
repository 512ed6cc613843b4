import Testing
@testable import Cort

/// The failover rules alone: which calls move to another node, which are
/// delivered, and which fail as "outcome unknown".
@Suite struct FailoverTests {
    func decide(_ attempt: Failover.Attempt, idempotent: Bool) -> Failover.Decision {
        Failover.decide(attempt, idempotent: idempotent, method: "Ledger.append(key:)", node: "ledger@a tcp://127.0.0.1:1")
    }

    @Test(arguments: [false, true])
    func aCallThatNeverLeftMovesWhetherIdempotentOrNot(idempotent: Bool) {
        #expect(decide(.notSent, idempotent: idempotent) == .tryAnotherNode)
    }

    @Test(arguments: [false, true])
    func aRefusalThatDidNotRunMoves(idempotent: Bool) {
        for code in [RemoteCallError.Code.overloaded, .shuttingDown] {
            #expect(decide(.answered(CallFailure(code: code, message: "no")), idempotent: idempotent) == .tryAnotherNode)
        }
    }

    @Test(arguments: [false, true])
    func answersAndApplicationErrorsAreDelivered(idempotent: Bool) {
        #expect(decide(.answered(nil), idempotent: idempotent) == .deliver)
        for code in [RemoteCallError.Code.remoteApplicationError, .badArguments, .unknownTarget, .deadlineExceeded,
                     .cancelled, .protocolError, .messageTooLarge] {
            #expect(decide(.answered(CallFailure(code: code, message: "x")), idempotent: idempotent) == .deliver)
        }
    }

    @Test func anIdempotentCallWhoseNodeFailedMoves() {
        #expect(decide(.nodeFailed(reason: "it was silent for 3 seconds"), idempotent: true) == .tryAnotherNode)
    }

    @Test func anyOtherCallWhoseNodeFailedHasAnUnknownOutcomeNamingTheNodeAndWhy() {
        guard case .fail(let code, let message) = decide(.nodeFailed(reason: "its connection is gone"), idempotent: false) else {
            Issue.record("a non-idempotent call must not move")
            return
        }
        #expect(code == .outcomeUnknown)
        #expect(message.contains("ledger@a tcp://127.0.0.1:1"))
        #expect(message.contains("its connection is gone"))
        #expect(message.contains("Ledger.append(key:)"))
    }
}
