import Synchronization
import Testing
@testable import Cort

@Suite struct LaneInterceptorsTests {
    /// One of cort's own kind of interceptor, with nothing to record to until told.
    final class Switchable: ServerInterceptor, BuiltInInterceptor {
        let active = Mutex(false)
        let asked = Atomic(0)

        var isActive: Bool {
            asked.add(1, ordering: .relaxed)
            return active.withLock { $0 }
        }

        func intercept(_ call: ServerCall,
                       next: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult {
            try await next(call)
        }
    }

    /// A lane asks its interceptors whether they have anything to do at
    /// most once per interval (the question takes the metrics and tracing
    /// systems' locks), and hands calls none while they have not: a backend
    /// that appears is used from at most an interval later.
    @Test func aLaneAsksItsInterceptorsOncePerInterval() {
        let interceptor = Switchable()
        var lane = NodeServer.Lane(
            name: "lane", work: .instances, actorType: "", access: .anyAllowedCaller,
            interceptors: InterceptorChain([interceptor]),
            queue: FairQueue(capacity: 4, byteCapacity: 1 << 20), maxInFlight: 4, metrics: nil)
        let interval = NodeServer.Lane.interceptorsCheckInterval
        #expect(lane.interceptors(at: .seconds(1)).interceptors.isEmpty)
        #expect(lane.interceptors(at: .seconds(1) + interval / 2).interceptors.isEmpty)
        #expect(interceptor.asked.load(ordering: .relaxed) == 1)
        interceptor.active.withLock { $0 = true }
        // Inside the interval the old answer stands; after it the lane asks again.
        #expect(lane.interceptors(at: .seconds(1) + interval / 2).interceptors.isEmpty)
        #expect(lane.interceptors(at: .seconds(1) + interval).interceptors.count == 1)
        #expect(interceptor.asked.load(ordering: .relaxed) == 2)
        // A clock that went back is no reason to trust an answer from its future.
        #expect(lane.interceptors(at: .seconds(1)).interceptors.count == 1)
        #expect(interceptor.asked.load(ordering: .relaxed) == 3)
    }
}
