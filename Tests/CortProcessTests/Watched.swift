import Synchronization

/// A value that tasks can wait on: ``wait(timeout:until:)`` returns as soon
/// as an ``update(_:)`` makes the predicate true, or false when the timeout
/// passes first. No polling: each update checks the waiting predicates.
final class Watched<Value: Sendable>: Sendable {
    private struct Waiter {
        let predicate: @Sendable (Value) -> Bool
        let continuation: CheckedContinuation<Bool, Never>
    }

    private struct State {
        var value: Value
        var waiters: [UInt64: Waiter] = [:]
        var nextTicket: UInt64 = 0
    }

    private let state: Mutex<State>

    init(_ value: Value) {
        state = Mutex(State(value: value))
    }

    var value: Value { state.withLock { $0.value } }

    /// Changes the value and wakes the waiters whose predicate now holds.
    @discardableResult
    func update<R>(_ body: (inout Value) -> R) -> R {
        let (result, woken) = state.withLock { state in
            let result = body(&state.value)
            var woken: [CheckedContinuation<Bool, Never>] = []
            for (ticket, waiter) in state.waiters where waiter.predicate(state.value) {
                state.waiters.removeValue(forKey: ticket)
                woken.append(waiter.continuation)
            }
            return (result, woken)
        }
        for continuation in woken { continuation.resume(returning: true) }
        return result
    }

    /// Waits until `predicate` holds (now or after an update), at most `timeout`.
    /// Returns whether it held.
    func wait(timeout: Duration, until predicate: @escaping @Sendable (Value) -> Bool) async -> Bool {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.wait(until: predicate) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
    }

    /// Waits until `predicate` holds; false when the task is cancelled first.
    /// Without a deadline: only for a task that something else cancels.
    func wait(until predicate: @escaping @Sendable (Value) -> Bool) async -> Bool {
        let ticket = state.withLock { state in
            state.nextTicket += 1
            return state.nextTicket
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let answer: Bool? = state.withLock { state in
                    if predicate(state.value) { return true }
                    if Task.isCancelled { return false }
                    state.waiters[ticket] = Waiter(predicate: predicate, continuation: continuation)
                    return nil
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: ticket) }?.continuation.resume(returning: false)
        }
    }
}
