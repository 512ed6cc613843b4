import Cort
import Synchronization

/// Calls ``Echo`` with a fixed number in flight (a closed loop: `window`
/// tasks, each making its next call when the last one ends) and records how
/// every call went. One load runs once.
///
/// ```swift
/// let load = EchoLoad(echo: cluster.echo, method: .echo)
/// let records = await load.run(window: 16, calls: 1_000, trigger: (250, { victim.signal(SIGKILL) }))
/// ```
public final class EchoLoad: Sendable {
    /// Which method the load calls.
    public enum Method: Sendable {
        /// ``Echo/echo(_:)``, idempotent by ``IdempotentMethods``.
        case echo
        /// ``Echo/echoNamingNode(_:)``, marked idempotent per call or not.
        case echoNamingNode(idempotent: Bool)
    }

    /// The instant the records' times count from.
    public let origin = ContinuousClock.now
    private let echo: Echo
    private let method: Method
    private let payload: [UInt8]
    private let issued = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    /// A load on `echo` with `payloadSize`-byte payloads.
    public init(echo: Echo, method: Method, payloadSize: Int = PingPongDefaults.payloadSize) {
        self.echo = echo
        self.method = method
        self.payload = [UInt8](repeating: 0x5a, count: payloadSize)
    }

    /// The time since ``origin``.
    public func now() -> Duration { ContinuousClock.now - origin }

    /// Makes `calls` calls (or calls until ``stop()``) with `window` in
    /// flight, and returns their records, in no particular order. The task
    /// about to make call number `trigger.call` (counting from 0) first runs
    /// `trigger.action`.
    public func run(
        window: Int, calls: Int = .max, trigger: (call: Int, action: @Sendable () async -> Void)? = nil
    ) async -> [CallRecord] {
        await withTaskGroup(of: [CallRecord].self) { group in
            for _ in 0..<max(window, 1) {
                group.addTask {
                    var records: [CallRecord] = []
                    records.reserveCapacity(min(calls / max(window, 1) + 16, 1 << 16))
                    while !self.stopped.load(ordering: .relaxed) {
                        let number = self.issued.add(1, ordering: .relaxed).oldValue
                        guard number < calls else { break }
                        if let trigger, number == trigger.call { await trigger.action() }
                        records.append(await self.call())
                    }
                    return records
                }
            }
            var all: [CallRecord] = []
            for await records in group {
                all += records
            }
            return all
        }
    }

    /// Makes the tasks stop after their current call.
    public func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    private func call() async -> CallRecord {
        let start = now()
        let outcome: CallRecord.Outcome
        do {
            switch method {
            case .echo:
                let reply = try await echo.echo(payload)
                outcome = reply.count == payload.count
                    ? .answered(node: nil) : .failed(code: nil, message: "a reply of \(reply.count) bytes")
            case .echoNamingNode(let idempotent):
                let reply = try await CallOptions.$current.withValue(CallOptions(idempotent: idempotent)) {
                    try await echo.echoNamingNode(payload)
                }
                outcome = reply.payload.count == payload.count
                    ? .answered(node: reply.node) : .failed(code: nil, message: "a reply of \(reply.payload.count) bytes")
            }
        } catch let error as RemoteCallError {
            outcome = .failed(code: error.code, message: error.message)
        } catch {
            outcome = .failed(code: nil, message: "\(error)")
        }
        return CallRecord(start: start, end: now(), outcome: outcome)
    }
}
