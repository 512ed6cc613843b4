import Synchronization

/// The task a worker runs its jobs in, held so that one job can be cancelled.
///
/// A job runs inline in its worker's task (no child task per job); to cancel
/// one, that task is cancelled, and because a task cannot be un-cancelled the
/// worker then finishes the job, leaves the task and goes on in a new one.
/// The handle arrives after the task starts, so a cancel that comes first is
/// remembered and applied on `attach`.
final class WorkerPoolRunner: Sendable {
    private struct State {
        var task: Task<Bool, Never>?
        var cancelled = false
    }

    private let state = Mutex(State())

    func attach(_ task: Task<Bool, Never>) {
        state.withLock { state in
            state.task = task
            if state.cancelled { task.cancel() }
        }
    }

    func cancel() {
        state.withLock { state in
            state.cancelled = true
            state.task?.cancel()
        }
    }
}
