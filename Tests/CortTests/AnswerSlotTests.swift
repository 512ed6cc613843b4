import Testing
@testable import Cort

@Suite struct AnswerSlotTests {
    private struct Refused: Error, Equatable {}

    private static func reason(_ result: RemoteService.AttemptResult) -> String? {
        guard case .nodeFailed(let reason) = result else { return nil }
        return reason
    }

    @Test func anOutcomeSetBeforeTheWaitIsReturnedAtOnce() async throws {
        let slot = AnswerSlot()
        slot.resume(returning: .nodeFailed("early"))
        #expect(Self.reason(try await slot.wait()) == "early")
    }

    @Test func aWaiterIsResumedWithTheOutcomeSetLater() async throws {
        let slot = AnswerSlot()
        let (started, startedInput) = AsyncStream.makeStream(of: Void.self)
        let waiter = Task {
            startedInput.yield()
            return try await slot.wait()
        }
        for await _ in started { break }
        slot.resume(returning: .nodeFailed("later"))
        #expect(Self.reason(try await waiter.value) == "later")
    }

    @Test func onlyTheFirstOutcomeCounts() async throws {
        let slot = AnswerSlot()
        slot.resume(throwing: Refused())
        slot.resume(returning: .notSent)
        await #expect(throws: Refused.self) { try await slot.wait() }

        let second = AnswerSlot()
        second.resume(returning: .nodeFailed("first"))
        second.resume(throwing: Refused())
        #expect(Self.reason(try await second.wait()) == "first")
    }
}
