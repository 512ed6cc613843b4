import Synchronization

/// Metric objects kept by the dimensions they were made for, so a call
/// looks its metrics up instead of making them, with a hard bound: once
/// `capacity` entries are kept, a new key is replaced by its overflow key
/// (every dimension ``CallMetrics/other``), which is made once and shared.
///
/// Dimension values come from what a call names (a service, a method): a
/// caller handed many actor references, or a node called by a hostile peer,
/// could name more than a metrics backend should keep series for.
final class MetricsTable<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let entries = Mutex<[Key: Value]>([:])
    let capacity: Int

    init(capacity: Int = CallMetrics.tableCapacity) {
        self.capacity = capacity
    }

    /// The value kept for `key` (or, when the table is full, for
    /// `overflow(key)`), made by `make` the first time it is asked for.
    func value(for key: Key, overflow: (Key) -> Key, make: (Key) -> Value) -> Value {
        entries.withLock { entries in
            if let value = entries[key] { return value }
            let kept = entries.count < capacity ? key : overflow(key)
            if let value = entries[kept] { return value }
            let value = make(kept)
            entries[kept] = value
            return value
        }
    }

    /// How many entries are kept, for tests.
    var count: Int { entries.withLock { $0.count } }
}
