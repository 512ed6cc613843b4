import Testing
@testable import Cort

@Suite(.timeLimit(.minutes(1))) struct StaticDiscoveryTests {
    private func firstList(_ discovery: StaticDiscovery, _ service: String) async throws -> [ServiceInstance]? {
        var iterator = discovery.watch(service: service).makeAsyncIterator()
        return try await iterator.next()
    }

    private func malformed(_ text: String?) -> DiscoveryError? {
        let environment = text.map { ["CORT_STATIC_SERVICES": $0] } ?? [:]
        do {
            _ = try StaticDiscovery(environment: environment)
            return nil
        } catch let error as DiscoveryError {
            return error
        } catch {
            return nil
        }
    }

    @Test func endpointsFromCodeBecomeInstancesWithDerivedIds() async throws {
        let discovery = try StaticDiscovery([
            "greeter": ["tcp://127.0.0.1:5556", "tcp://127.0.0.1:5555"],
            "echo": ["inproc://echo"],
        ])
        let greeter = try await firstList(discovery, "greeter")
        #expect(greeter?.map(\.id) == ["greeter@tcp://127.0.0.1:5555", "greeter@tcp://127.0.0.1:5556"])
        #expect(greeter?.map(\.endpoint) == ["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"])
        #expect(greeter?.allSatisfy { $0.service == "greeter" } == true)
        #expect(try await firstList(discovery, "echo")?.map(\.endpoint) == ["inproc://echo"])
        #expect(try await firstList(discovery, "unknown") == [])
    }

    @Test func instancesGivenInFullKeepTheirIdsAndMetadata() async throws {
        let node = ServiceInstance(service: "greeter", id: "greeter@n1", endpoint: "tcp://10.0.0.1:1", tags: ["a"], metadata: ["cort_protocol": "1"])
        let discovery = try StaticDiscovery(instances: [node])
        #expect(try await firstList(discovery, "greeter") == [node])
    }

    @Test func invalidEndpointsInCodeAreRefused() {
        let scheme = #expect(throws: DiscoveryError.self) { try StaticDiscovery(["greeter": ["http://x:1"]]) }
        #expect(scheme?.code == .invalidInstance)
        let twice = #expect(throws: DiscoveryError.self) { try StaticDiscovery(["greeter": ["tcp://x:1", "tcp://x:1"]]) }
        #expect(twice?.code == .invalidInstance)
        let emptyName = #expect(throws: DiscoveryError.self) { try StaticDiscovery(["": []]) }
        #expect(emptyName?.code == .invalidInstance)
        let sameID = #expect(throws: DiscoveryError.self) {
            try StaticDiscovery(instances: [
                ServiceInstance(service: "g", id: "same", endpoint: "tcp://a:1"),
                ServiceInstance(service: "g", id: "same", endpoint: "tcp://b:1"),
            ])
        }
        #expect(sameID?.code == .invalidInstance)
    }

    @Test func endpointsFromTheEnvironment() async throws {
        let discovery = try StaticDiscovery(environment: [
            "CORT_STATIC_SERVICES": "greeter=tcp://127.0.0.1:5555,tcp://127.0.0.1:5556;echo=tcp://127.0.0.1:6000"
        ])
        #expect(try await firstList(discovery, "greeter")?.map(\.endpoint) == ["tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556"])
        #expect(try await firstList(discovery, "echo")?.map(\.id) == ["echo@tcp://127.0.0.1:6000"])
    }

    @Test func spacesAndATrailingSemicolonAreTolerated() async throws {
        let discovery = try StaticDiscovery(
            environmentVariable: "MY_SERVICES",
            environment: ["MY_SERVICES": " greeter = tcp://127.0.0.1:1 , tcp://127.0.0.1:2 ; echo=inproc://e;"]
        )
        #expect(try await firstList(discovery, "greeter")?.map(\.endpoint) == ["tcp://127.0.0.1:1", "tcp://127.0.0.1:2"])
        #expect(try await firstList(discovery, "echo")?.map(\.endpoint) == ["inproc://e"])
    }

    @Test(arguments: [
        (nil, "not set"),
        ("", "empty"),
        ("greeter", "no '='"),
        ("=tcp://127.0.0.1:1", "no service name"),
        ("greeter=", "no endpoints"),
        ("greeter=tcp://a:1,,tcp://b:1", "empty endpoint"),
        ("greeter=tcp://a:1;;echo=tcp://b:1", "entry 2 is empty"),
        (";greeter=tcp://a:1", "entry 1 is empty"),
        ("greeter=tcp://a:1;greeter=tcp://b:1", "listed twice"),
        ("greeter=http://a:1", "does not start with"),
        ("greeter=tcp://a:1,tcp://a:1", "listed twice"),
        ("gree ter=tcp://a:1", "whitespace"),
    ] as [(String?, String)])
    func malformedEnvironmentTextIsAClearError(text: String?, expected: String) {
        let error = malformed(text)
        #expect(error?.code == .malformedConfiguration)
        #expect(error?.message.contains("CORT_STATIC_SERVICES") == true)
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "no error")")
    }

    @Test func aBadEndpointInTheEnvironmentCarriesTheValidationErrorAsCause() {
        let error = malformed("greeter=udp://a:1")
        let cause = error?.cause as? DiscoveryError
        #expect(cause?.code == .invalidInstance)
    }

    @Test func registerAndDeregisterSucceedWithoutChangingTheList() async throws {
        let discovery = try StaticDiscovery(["greeter": ["tcp://127.0.0.1:1"]])
        try await discovery.register(ServiceInstance(service: "greeter", id: "other", endpoint: "tcp://127.0.0.1:2"))
        try await discovery.deregister(ServiceInstance(service: "greeter", id: "greeter@tcp://127.0.0.1:1", endpoint: "tcp://127.0.0.1:1"))
        #expect(try await firstList(discovery, "greeter")?.map(\.endpoint) == ["tcp://127.0.0.1:1"])
    }

    @Test func watchStaysOpenUntilTheConsumerStops() async throws {
        let discovery = try StaticDiscovery(["greeter": ["tcp://127.0.0.1:1"]])
        let stream = discovery.watch(service: "greeter")
        let (firstSeen, firstSeenContinuation) = AsyncStream<Void>.makeStream()
        let consumer = Task {
            var lists = 0
            for try await _ in stream {
                lists += 1
                firstSeenContinuation.yield()
            }
            return lists
        }
        var seen = firstSeen.makeAsyncIterator()
        await seen.next()
        // The stream did not end by itself: only cancelling the consumer ends it.
        consumer.cancel()
        let lists = try await consumer.value
        #expect(lists == 1)
    }
}

@Suite struct StaticDiscoveryListingTests {
    @Test("services() lists the fixed services, sorted; instances(of:within:) gives a service's list once")
    func listing() async throws {
        let discovery = try StaticDiscovery(["b": ["tcp://127.0.0.1:2", "tcp://127.0.0.1:3"], "a": ["tcp://127.0.0.1:1"]])
        #expect(try await discovery.services() == ["a", "b"])
        let nodes = try await discovery.instances(of: "b", within: .seconds(5))
        #expect(nodes.map(\.endpoint) == ["tcp://127.0.0.1:2", "tcp://127.0.0.1:3"])
        #expect(try await discovery.instances(of: "unknown", within: .seconds(5)).isEmpty)
    }
}
