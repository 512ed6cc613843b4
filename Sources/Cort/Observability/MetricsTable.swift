import CoreMetrics
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

/// The metric objects of one side's calls: one value per service (shared by
/// its methods) and one per service and method, each table bounded as
/// ``MetricsTable`` is, keyed by the factory they record to as well.
///
/// ```swift
/// let tables = ServiceMethodTables<Timer, MethodMetrics>()
/// let metrics = tables.value(service: "greeter", method: "Greeter.hello(name:)", factory: factory,
///                            makeService: { service in Timer(label: …) },
///                            makeMethod: { queueTime, service, method in MethodMetrics(…) })
/// ```
final class ServiceMethodTables<ServiceValue: Sendable, MethodValue: Sendable>: Sendable {
    private let services = MetricsTable<MetricsServiceKey, ServiceValue>()
    private let methods = MetricsTable<MetricsMethodKey, MethodValue>()

    /// The value for `method` of `service` recording to `factory`; made the
    /// first time (with its service's value), or the `other` one past the bounds.
    func value(service: String, method: String, factory: any MetricsFactory,
               makeService: (_ service: String) -> ServiceValue,
               makeMethod: (ServiceValue, _ service: String, _ method: String) -> MethodValue) -> MethodValue {
        let id = MetricsFactoryID(factory)
        return methods.value(
            for: MetricsMethodKey(factory: id, service: service, method: method),
            overflow: { MetricsMethodKey(factory: $0.factory, service: CallMetrics.other, method: CallMetrics.other) }
        ) { key in
            let serviceValue = services.value(
                for: MetricsServiceKey(factory: id, service: key.service),
                overflow: { MetricsServiceKey(factory: $0.factory, service: CallMetrics.other) }
            ) { makeService($0.service) }
            return makeMethod(serviceValue, key.service, key.method)
        }
    }
}
