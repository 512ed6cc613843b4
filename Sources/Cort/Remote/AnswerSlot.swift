import Synchronization

/// Where one call's outcome meets its caller: set once by whoever ends the
/// call, awaited once by the caller, in either order.
///
/// ``RemoteService`` registers a call's slot and sends the call in one turn
/// of the actor; the caller then awaits the slot outside the actor. So the
/// answer resumes the caller's task where it runs (the global pool, or its
/// preferred executor) instead of through the actor's queue, which would be
/// one more thread to wake per call. An outcome set before the caller
/// awaits is kept until it does.
///
/// ```swift
/// let slot = AnswerSlot()
/// slot.resume(returning: .notSent)    // from whoever ends the call
/// let value = try await slot.wait()   // .notSent, at once
/// ```
///
/// Not generic: a generic slot's state was laid out at run time, and every
/// call paid for it in its init, its resume, its wait and its deinit (the
/// metadata of `Mutex<State>`, `State` and `_Cell` looked up, its value
/// destroyed through witnesses: callgrind, the caller at 64 calls in flight,
/// about 2,500 instructions a call).
final class AnswerSlot: Sendable {
    typealias Value = RemoteService.AttemptResult

    private enum State {
        case empty
        case waiting(UnsafeContinuation<Value, any Error>)
        case done(Result<Value, any Error>)
        case taken
    }

    private let state: Mutex<State>

    init() {
        state = Mutex(.empty)
    }

    /// Sets the outcome to `value`; a second outcome is ignored.
    func resume(returning value: Value) {
        resume(with: .success(value))
    }

    /// Sets the outcome to `error`; a second outcome is ignored.
    func resume(throwing error: any Error) {
        resume(with: .failure(error))
    }

    private func resume(with outcome: Result<Value, any Error>) {
        let waiter: UnsafeContinuation<Value, any Error>? = state.withLock { state in
            switch state {
            case .empty:
                state = .done(outcome)
                return nil
            case .waiting(let continuation):
                state = .taken
                return continuation
            case .done, .taken:
                return nil
            }
        }
        waiter?.resume(with: outcome)
    }

    /// The outcome, once it is set. Call it once.
    func wait() async throws -> Value {
        try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Value, any Error>) in
            let ready: Result<Value, any Error>? = state.withLock { state in
                switch state {
                case .empty:
                    state = .waiting(continuation)
                    return nil
                case .done(let outcome):
                    state = .taken
                    return outcome
                case .waiting, .taken:
                    preconditionFailure("an answer slot was awaited twice")
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
