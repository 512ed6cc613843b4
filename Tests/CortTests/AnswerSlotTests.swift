import Testing
@testable import Cort

@Suite struct AnswerSlotTests {
    private struct Refused: Error, Equatable {}

    @Test func anOutcomeSetBeforeTheWaitIsReturnedAtOnce() async throws {
        let slot = AnswerSlot<Int>()
        slot.resume(returning: 42)
        #expect(try await slot.wait() == 42)
    }

    @Test func aWaiterIsResumedWithTheOutcomeSetLater() async throws {
        let slot = AnswerSlot<String>()
        let (started, startedInput) = AsyncStream.makeStream(of: Void.self)
        let waiter = Task {
            startedInput.yield()
            return try await slot.wait()
        }
        for await _ in started { break }
        slot.resume(returning: "answer")
        #expect(try await waiter.value == "answer")
    }

    @Test func onlyTheFirstOutcomeCounts() async throws {
        let slot = AnswerSlot<Int>()
        slot.resume(throwing: Refused())
        slot.resume(returning: 1)
        await #expect(throws: Refused.self) { try await slot.wait() }

        let second = AnswerSlot<Int>()
        second.resume(returning: 7)
        second.resume(throwing: Refused())
        #expect(try await second.wait() == 7)
    }
}
