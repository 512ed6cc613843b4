import FlyingFox
import Foundation
import Synchronization

/// The state behind a stub health endpoint: the instances, the index, an optional failure,
/// and a crude blocking query (polls every 5 ms, bounded by the query's wait), enough for
/// the watch's own tests. Every request is announced on ``queries``.
final class ScriptedHealth: Sendable {
    struct State {
        var index: UInt64 = 1
        var instanceIDs: [String] = []
        var failure: (HTTPStatusCode, String)?
    }

    struct Query: Sendable {
        var index: UInt64
        var failed: Bool
    }

    let state = Mutex(State())
    let queries: AsyncStream<Query>
    private let sink: AsyncStream<Query>.Continuation
    /// The index of each query as it arrives (before it blocks).
    let arrivals: AsyncStream<UInt64>
    private let arrivalSink: AsyncStream<UInt64>.Continuation

    init(index: UInt64, instances: [String]) {
        (queries, sink) = AsyncStream<Query>.makeStream()
        (arrivals, arrivalSink) = AsyncStream<UInt64>.makeStream()
        state.withLock {
            $0.index = index
            $0.instanceIDs = instances
        }
    }

    func set(index: UInt64, instances: [String]) {
        state.withLock {
            $0.index = index
            $0.instanceIDs = instances
        }
    }

    func fail(_ failure: (HTTPStatusCode, String)?) {
        state.withLock { $0.failure = failure }
    }

    func handle(_ request: FlyingFox.HTTPRequest) async throws -> FlyingFox.HTTPResponse {
        let asked = request.query.first { $0.name == "index" }.flatMap { UInt64($0.value) } ?? 0
        arrivalSink.yield(asked)
        let wait = request.query.first { $0.name == "wait" }?.value ?? "5s"
        let waitMilliseconds = wait.hasSuffix("ms") ? Int(wait.dropLast(2)) ?? 5_000 : (Int(wait.dropLast()) ?? 5) * 1000
        if asked > 0 {
            for _ in 0..<(waitMilliseconds / 5) {
                let blocked = state.withLock { $0.failure == nil && $0.index == asked }
                if !blocked { break }
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        let (index, ids, failure) = state.withLock { ($0.index, $0.instanceIDs, $0.failure) }
        sink.yield(Query(index: asked, failed: failure != nil))
        if let (status, text) = failure { return consulError(status, text) }
        return consulAnswer("[" + ids.map { healthEntryJSON(id: $0) }.joined(separator: ",") + "]", index: index)
    }
}
