import Foundation
import Testing
@testable import Cort

// A hang fails the test after the time limit instead of stalling the suite.
@Suite(.timeLimit(.minutes(1))) struct LocalDiscoveryTests {
    private func instance(_ id: String, service: String = "greeter", port: Int = 5555) -> ServiceInstance {
        ServiceInstance(service: service, id: id, endpoint: "tcp://127.0.0.1:\(port)", metadata: ["cort_protocol": "1"])
    }

    private func firstList(_ discovery: LocalDiscovery, _ service: String) async throws -> [ServiceInstance]? {
        var iterator = discovery.watch(service: service).makeAsyncIterator()
        return try await iterator.next()
    }

    @Test func watchStartsWithTheCurrentListThenFollowsEveryChange() async throws {
        let discovery = LocalDiscovery()
        try await discovery.register(instance("greeter@b", port: 2))
        var watch = discovery.watch(service: "greeter").makeAsyncIterator()
        #expect(try await watch.next()?.map(\.id) == ["greeter@b"])

        try await discovery.register(instance("greeter@a", port: 1))
        #expect(try await watch.next()?.map(\.id) == ["greeter@a", "greeter@b"], "sorted by id")

        let moved = instance("greeter@a", port: 9)
        try await discovery.register(moved)
        let afterMove = try await watch.next()
        #expect(afterMove?.first == moved, "re-registering an id replaces it")
        #expect(afterMove?.count == 2)

        try await discovery.deregister(moved)
        #expect(try await watch.next()?.map(\.id) == ["greeter@b"])

        try await discovery.deregister(instance("greeter@b"))
        #expect(try await watch.next() == [])
    }

    @Test func unknownServiceStartsEmptyAndOtherServicesDoNotLeakIn() async throws {
        let discovery = LocalDiscovery()
        try await discovery.register(instance("echo@a", service: "echo"))
        var watch = discovery.watch(service: "greeter").makeAsyncIterator()
        #expect(try await watch.next() == [])
        try await discovery.register(instance("echo@b", service: "echo"))
        try await discovery.register(instance("greeter@a"))
        #expect(try await watch.next()?.map(\.id) == ["greeter@a"])
    }

    @Test func deregisteringAnUnknownIdIsANoOp() async throws {
        let discovery = LocalDiscovery()
        try await discovery.register(instance("greeter@a"))
        try await discovery.deregister(instance("greeter@nobody"))
        try await discovery.deregister(instance("nobody@a", service: "nobody"))
        #expect(try await firstList(discovery, "greeter")?.map(\.id) == ["greeter@a"])
    }

    @Test func severalWatchersSeeTheSameLists() async throws {
        let discovery = LocalDiscovery()
        var first = discovery.watch(service: "greeter").makeAsyncIterator()
        var second = discovery.watch(service: "greeter").makeAsyncIterator()
        #expect(try await first.next() == [])
        #expect(try await second.next() == [])
        try await discovery.register(instance("greeter@a"))
        let a = try await first.next()
        let b = try await second.next()
        #expect(a?.map(\.id) == ["greeter@a"])
        #expect(a == b)
        #expect(discovery.watcherCount == 2)
    }

    @Test func aSlowWatcherGetsTheNewestListNotABacklog() async throws {
        let discovery = LocalDiscovery()
        var watch = discovery.watch(service: "greeter").makeAsyncIterator()
        for index in 0..<5 {
            try await discovery.register(instance("greeter@\(index)", port: 5000 + index))
        }
        #expect(try await watch.next()?.count == 5)
    }

    @Test func concurrentRegistrationsAllArriveAndTheLastListIsComplete() async throws {
        let discovery = LocalDiscovery()
        var watch = discovery.watch(service: "greeter").makeAsyncIterator()
        #expect(try await watch.next() == [])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<50 {
                group.addTask { try await discovery.register(instance("greeter@\(index)", port: 5000 + index)) }
            }
            try await group.waitForAll()
        }
        // Lists reach a watcher in the order they were made, so the newest is the complete one.
        #expect(try await watch.next()?.count == 50)
    }

    @Test func stoppingAWatchReleasesIt() async throws {
        let discovery = LocalDiscovery()
        let stream = discovery.watch(service: "greeter")
        let consumer = Task {
            var count = 0
            for try await _ in stream { count += 1 }
            return count
        }
        #expect(discovery.watcherCount == 1)
        consumer.cancel()
        _ = try? await consumer.value
        #expect(discovery.watcherCount == 0)

        // A watch dropped without ever being iterated is released too.
        do { _ = discovery.watch(service: "echo") }
        #expect(discovery.watcherCount == 0)
    }

    @Test(arguments: [
        ServiceInstance(service: "", id: "x", endpoint: "tcp://127.0.0.1:1"),
        ServiceInstance(service: "greet er", id: "x", endpoint: "tcp://127.0.0.1:1"),
        ServiceInstance(service: "greeter", id: "", endpoint: "tcp://127.0.0.1:1"),
        ServiceInstance(service: "greeter", id: "a b", endpoint: "tcp://127.0.0.1:1"),
        ServiceInstance(service: "greeter", id: String(repeating: "x", count: 256), endpoint: "tcp://127.0.0.1:1"),
        ServiceInstance(service: "greeter", id: "x", endpoint: "http://127.0.0.1:1"),
        ServiceInstance(service: "greeter", id: "x", endpoint: "127.0.0.1:1"),
        ServiceInstance(service: "greeter", id: "x", endpoint: "tcp://"),
        ServiceInstance(service: "greeter", id: "x", endpoint: ""),
    ])
    func invalidInstancesAreRefusedAndChangeNothing(_ bad: ServiceInstance) async throws {
        let discovery = LocalDiscovery()
        let error = await #expect(throws: DiscoveryError.self) { try await discovery.register(bad) }
        #expect(error?.code == .invalidInstance)
        #expect(error?.message.isEmpty == false)
        if (try? ServiceInstance.validate(serviceName: bad.service)) != nil {
            #expect(try await firstList(discovery, bad.service) == [])
        }
    }

    @Test func validEndpointsOfEveryTransportAreAccepted() async throws {
        let discovery = LocalDiscovery()
        try await discovery.register(ServiceInstance(service: "greeter", id: "a", endpoint: "tcp://127.0.0.1:1"))
        try await discovery.register(ServiceInstance(service: "greeter", id: "b", endpoint: "ipc:///tmp/cort-greeter"))
        try await discovery.register(ServiceInstance(service: "greeter", id: "c", endpoint: "inproc://greeter"))
        try await discovery.register(ServiceInstance(service: "greeter", id: String(repeating: "x", count: 255), endpoint: "inproc://x"))
        #expect(try await firstList(discovery, "greeter")?.count == 4)
    }

    @Test func deregisterWithAnEmptyIdOrServiceIsAnError() async throws {
        let discovery = LocalDiscovery()
        let emptyID = await #expect(throws: DiscoveryError.self) {
            try await discovery.deregister(ServiceInstance(service: "greeter", id: "", endpoint: "tcp://a:1"))
        }
        #expect(emptyID?.code == .invalidInstance)
        let emptyService = await #expect(throws: DiscoveryError.self) {
            try await discovery.deregister(ServiceInstance(service: "", id: "a", endpoint: "tcp://a:1"))
        }
        #expect(emptyService?.code == .invalidInstance)
    }

    @Test func watchingAnInvalidServiceNameThrows() async throws {
        let discovery = LocalDiscovery()
        var watch = discovery.watch(service: "").makeAsyncIterator()
        let error = await #expect(throws: DiscoveryError.self) { _ = try await watch.next() }
        #expect(error?.code == .invalidInstance)
        #expect(discovery.watcherCount == 0)
    }

    @Test func twoSystemsSharingTheProcessWideInstanceSeeEachOther() async throws {
        // Unique service name: other tests may use the shared instance in parallel.
        let service = "greeter-\(UUID().uuidString.prefix(8))"
        let nodeSide: any Discovery = LocalDiscovery.shared
        let callerSide: any Discovery = LocalDiscovery.shared
        var watch = callerSide.watch(service: service).makeAsyncIterator()
        #expect(try await watch.next() == [])

        let registered = instance("\(service)@node-1", service: service)
        try await nodeSide.register(registered)
        #expect(try await watch.next() == [registered])

        try await nodeSide.deregister(registered)
        #expect(try await watch.next() == [])
    }

    @Test func instancesRoundTripThroughCodable() throws {
        let original = ServiceInstance(
            service: "greeter", id: "greeter@n", endpoint: "tcp://127.0.0.1:1",
            tags: ["blue"], metadata: ["cort_protocol": "1"]
        )
        let data = try JSONEncoder().encode(original)
        #expect(try JSONDecoder().decode(ServiceInstance.self, from: data) == original)
    }
}

@Suite struct LocalDiscoveryListingTests {
    /// A backend that does not implement `services()`.
    struct ListlessDiscovery: Discovery {
        func register(_ instance: ServiceInstance) async throws {}
        func deregister(_ instance: ServiceInstance) async throws {}
        func watch(service: String) -> AsyncThrowingStream<[ServiceInstance], any Error> {
            AsyncThrowingStream { _ in }
        }
    }

    @Test("services() lists the services with registered instances, sorted, and forgets one whose last instance left")
    func listing() async throws {
        let discovery = LocalDiscovery()
        #expect(try await discovery.services() == [])
        let greeter = ServiceInstance(service: "greeter", id: "greeter@a", endpoint: "tcp://127.0.0.1:5555")
        try await discovery.register(greeter)
        try await discovery.register(ServiceInstance(service: "echo", id: "echo@a", endpoint: "tcp://127.0.0.1:5556"))
        #expect(try await discovery.services() == ["echo", "greeter"])
        #expect(try await discovery.instances(of: "greeter", within: .seconds(5)) == [greeter])
        try await discovery.deregister(greeter)
        #expect(try await discovery.services() == ["echo"])
        #expect(discovery.watcherCount == 0)
    }

    @Test("a backend without services() throws unsupported; instances(of:within:) gives up after the timeout")
    func unsupportedAndTimeout() async throws {
        let discovery = ListlessDiscovery()
        await #expect(throws: DiscoveryError.self) { try await discovery.services() }
        do {
            _ = try await discovery.services()
        } catch let error as DiscoveryError {
            #expect(error.code == .unsupported)
        }
        do {
            _ = try await discovery.instances(of: "greeter", within: .milliseconds(50))
            Issue.record("a watch that yields nothing gave a list")
        } catch let error as DiscoveryError {
            #expect(error.code == .unavailable)
            #expect(error.message.contains("greeter"))
        }
    }

    /// A change and the cancellation of a waiting watcher at the same
    /// moment: the change's yield takes the watcher task's status lock, and
    /// the cancellation, holding it, removes the watcher. Yielding under the
    /// discovery's own lock deadlocked the two once in CI; the suite's time
    /// limit turns a deadlock into a failure.
    @Test func changesRacingCancelledWatchersNeverDeadlock() async throws {
        let discovery = LocalDiscovery()
        let instance = ServiceInstance(service: "racer", id: "n1", endpoint: "tcp://127.0.0.1:1")
        for _ in 0..<300 {
            let watching = Task {
                var lists = 0
                for try await _ in discovery.watch(service: "racer") { lists += 1 }
                return lists
            }
            async let changes: Void = {
                for _ in 0..<5 {
                    try await discovery.register(instance)
                    try await discovery.deregister(instance)
                }
            }()
            watching.cancel()
            try await changes
            _ = try? await watching.value
        }
        #expect(discovery.watcherCount == 0)
    }
}
