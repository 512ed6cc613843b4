import CoreMetrics
import Synchronization

/// The calls of one service and method, counted by how they ended: one
/// counter per `code` (``CallMetrics/codeValue(_:)``), made the first time
/// a call ends with it. There are as many as codes, so they need no bound.
final class OutcomeCounters: Sendable {
    private let label: String
    private let service: String
    private let method: String
    private let factory: any MetricsFactory
    /// By the code's wire value; 0 for a call that returned a value.
    private let counters = Mutex<[UInt8: Counter]>([:])

    init(label: String, service: String, method: String, factory: any MetricsFactory) {
        self.label = label
        self.service = service
        self.method = method
        self.factory = factory
    }

    /// Counts one call that ended with `code` (nil: it returned a value).
    func count(_ code: RemoteCallError.Code?) {
        let counter = counters.withLock { counters in
            let key = code?.wireValue ?? 0
            if let counter = counters[key] { return counter }
            let counter = Counter(label: label, dimensions: [
                (CallMetrics.service, service), (CallMetrics.method, method),
                (CallMetrics.code, CallMetrics.codeValue(code)),
            ], factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
    }
}
