import Synchronization

/// A process-wide backend (swift-metrics' factory, swift-distributed-tracing's
/// tracer) as cort's interceptors see it: looked up at most once a second.
///
/// Both libraries keep theirs behind a lock and answer through dynamic casts,
/// which cost more than the rest of a call's bookkeeping when nothing is
/// bootstrapped (a fifth of a node's user time, measured). A backend is
/// bootstrapped once, at start-up; one bootstrapped after a system started
/// is seen within a second.
final class GlobalBackend<Backend: Sendable>: Sendable {
    private struct Cached {
        var backend: Backend?
        var checkedAt: ContinuousClock.Instant
    }

    private let lookUp: @Sendable () -> Backend?
    private let cached = Mutex<Cached?>(nil)

    /// `lookUp` reads the library's global: nil when it is its no-op one.
    init(_ lookUp: @escaping @Sendable () -> Backend?) {
        self.lookUp = lookUp
    }

    /// The backend now, nil when none is bootstrapped.
    var current: Backend? {
        let now = ContinuousClock.now
        if let cached = cached.withLock({ $0 }), now - cached.checkedAt < .seconds(1) {
            return cached.backend
        }
        let backend = lookUp()
        cached.withLock { $0 = Cached(backend: backend, checkedAt: now) }
        return backend
    }
}
