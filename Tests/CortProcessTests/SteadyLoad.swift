import Cort
import ReliabilityServices
import Synchronization

/// Calls the ledger from many tasks at a steady pace, each call with a unique
/// key, rotating reads, appends and appends marked idempotent, and records how
/// every call ended.
final class SteadyLoad: Sendable {
    /// What the load has done so far; tests wait on it.
    struct State: Sendable {
        /// Every call that ended, in the order they ended.
        var records: [CallRecord] = []
        /// Start times of the calls in flight, by call number.
        var inFlight: [Int: Duration] = [:]
        /// Successful calls per node.
        var successes: [String: Int] = [:]
        /// Calls that did not succeed.
        var failures = 0
        /// When the last call so far started.
        var latestStart = Duration.zero

        /// Whether `time` has passed (a call started after it) and every call
        /// started at or before it has ended.
        func settled(startedBy time: Duration) -> Bool {
            latestStart > time && !inFlight.values.contains { $0 <= time }
        }

        func successes(on nodes: [String]) -> Int {
            nodes.reduce(0) { $0 + successes[$1, default: 0] }
        }
    }

    let state = Watched(State())
    let origin = ContinuousClock.now
    private let stopped = Atomic(false)

    /// The time since the load's origin.
    func now() -> Duration { ContinuousClock.now - origin }

    /// Runs `workers` tasks, each making one call at a time and pausing
    /// `pace` between calls, until ``stop()`` (or `maxCallsPerWorker` each).
    func run(_ ledger: Ledger, workers: Int = 8, pace: Duration = .milliseconds(4), maxCallsPerWorker: Int = 20_000) async {
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    for index in 0..<maxCallsPerWorker where !self.stopped.load(ordering: .relaxed) {
                        let kind = CallRecord.Kind.allCases[(index + worker) % CallRecord.Kind.allCases.count]
                        await self.call(ledger, kind: kind, key: "\(kind.keyPrefix)-\(worker)-\(index)",
                                        number: worker * maxCallsPerWorker + index)
                        try? await Task.sleep(for: pace)
                    }
                }
            }
        }
    }

    /// Makes the workers stop after their current call.
    func stop() {
        stopped.store(true, ordering: .relaxed)
    }

    private func call(_ ledger: Ledger, kind: CallRecord.Kind, key: String, number: Int) async {
        let start = now()
        state.update { state in
            state.inFlight[number] = start
            state.latestStart = max(state.latestStart, start)
        }
        let outcome: CallRecord.Outcome
        do {
            let receipt: LedgerReceipt
            switch kind {
            case .read:
                receipt = try await ledger.read(key: key)
            case .append:
                receipt = try await ledger.append(key: key)
            case .appendMarkedIdempotent:
                receipt = try await CallOptions.$current.withValue(CallOptions(idempotent: true)) {
                    try await ledger.append(key: key)
                }
            }
            outcome = receipt.key == key
                ? .succeeded(node: receipt.node)
                : .unexpected("the receipt for \(key) names \(receipt.key)")
        } catch let error as RemoteCallError {
            outcome = .failed(code: error.code, message: error.message)
        } catch {
            outcome = .unexpected("\(error)")
        }
        let record = CallRecord(kind: kind, key: key, start: start, end: now(), outcome: outcome)
        state.update { state in
            state.inFlight.removeValue(forKey: number)
            state.records.append(record)
            if let node = record.node {
                state.successes[node, default: 0] += 1
            } else {
                state.failures += 1
            }
        }
    }
}
