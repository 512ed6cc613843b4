import Distributed
import Foundation
import Logging
import Testing
@testable import Cort

/// What a stockroom throws when an item is gone; declared on the service type.
struct OutOfStock: Error, Codable, Sendable, Equatable {
    var item: String
    var left: Int
}

/// A service that names itself after its type and declares its errors.
distributed actor Stockroom: CortService {
    typealias ActorSystem = CortSystem
    static let remoteErrors: [any (Error & Codable & Sendable).Type] = [OutOfStock.self]

    distributed func reserve(_ item: String) throws -> Int {
        throw OutOfStock(item: item, left: 0)
    }

    /// The metadata the call arrived with.
    distributed func metadata() -> [String: String] {
        CallContext.current?.metadata ?? [:]
    }

    /// The seconds the call had left when it started.
    distributed func secondsLeft() -> Double {
        guard let left = CallContext.current?.timeRemaining else { return -1 }
        return Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
    }

    /// Runs until the test releases `key` (at most a minute).
    distributed func hold(_ key: String) async throws -> String {
        Observations.shared.record(key, "started")
        guard await Observations.shared.waitFor(Observations.releaseKey(key), timeout: .seconds(60), { _ in true }) else {
            throw CancellationError()
        }
        return key
    }
}

/// A service whose name is not its type's.
distributed actor TallyCounter: CortService {
    typealias ActorSystem = CortSystem
    static let serviceName = "tally"

    distributed func name() -> String { Self.serviceName }
}

@Suite struct ServiceTypeTests {
    @Test func aServiceIsHostedAndFoundByItsType() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host(replicas: 2) { Stockroom(actorSystem: $0) }
            try await node.host { TallyCounter(actorSystem: $0) }
        }) { _, caller in
            #expect(Stockroom.serviceName == "Stockroom")
            let stockroom = try Stockroom.service(in: caller)
            #expect(stockroom.id == .service("Stockroom"))
            #expect(try await stockroom.metadata() == [:])
            // The names are what discovery knows: a plain identity finds them too.
            let counter = try TallyCounter.resolve(id: .service("tally"), using: caller)
            #expect(try await counter.name() == "tally")
            #expect(try await TallyCounter.service(in: caller).name() == "tally")
        }
    }

    @Test func declaredErrorsArriveAsThemselvesWithoutRegistering() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host { Stockroom(actorSystem: $0) }
        }) { _, caller in
            let proxies = [try Stockroom.service(in: caller), try Stockroom.resolve(id: .service("Stockroom"), using: caller)]
            for stockroom in proxies {
                do {
                    _ = try await stockroom.reserve("lamp")
                    Issue.record("expected OutOfStock")
                } catch let error as OutOfStock {
                    #expect(error == OutOfStock(item: "lamp", left: 0))
                }
            }
        }
    }

    @Test func callOptionsForAScopeNestAndAddUp() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host { Stockroom(actorSystem: $0) }
        }) { _, caller in
            let stockroom = try Stockroom.service(in: caller)
            let (left, metadata) = try await withCallOptions(timeout: .seconds(7), metadata: ["tenant": "acme"]) {
                try await withCallOptions(metadata: ["trace": "t-1"]) {
                    (try await stockroom.secondsLeft(), try await stockroom.metadata())
                }
            }
            #expect(left > 4 && left <= 7, "the outer scope's timeout holds inside: \(left)")
            #expect(metadata == ["tenant": "acme", "trace": "t-1"])
            let inner = try await withCallOptions(timeout: .seconds(60)) {
                try await withCallOptions(timeout: .seconds(3)) { try await stockroom.secondsLeft() }
            }
            #expect(inner > 0 && inner <= 3, "an inner timeout replaces the outer one: \(inner)")
            #expect(CallOptions.current == CallOptions(), "nothing leaks out of the scope")
        }
    }

    @Test func aProxyCarriesDefaultsThatAScopeOverrides() async throws {
        try await withNodes(1, host: { node, _ in
            try await node.host { Stockroom(actorSystem: $0) }
        }) { _, caller in
            let patient = try Stockroom.service(
                in: caller, options: CallOptions(timeout: .seconds(3), metadata: ["tenant": "acme", "region": "eu"]))
            #expect(patient.id == .service("Stockroom"), "options are not part of the identity")
            let left = try await patient.secondsLeft()
            #expect(left > 0 && left <= 3, "\(left)")
            #expect(try await patient.metadata() == ["tenant": "acme", "region": "eu"])
            let (scoped, metadata) = try await withCallOptions(timeout: .seconds(40), metadata: ["tenant": "other"]) {
                (try await patient.secondsLeft(), try await patient.metadata())
            }
            #expect(scoped > 30 && scoped <= 40, "the scope's timeout wins: \(scoped)")
            #expect(metadata == ["tenant": "other", "region": "eu"])
            // A plain proxy of the same service keeps the system's default (30 s here).
            let plain = try await Stockroom.service(in: caller).secondsLeft()
            #expect(plain > 20 && plain <= 30, "\(plain)")
        }
    }

    @Test func eachServiceHasItsOwnQueueCapacity() async throws {
        let key = "queue-\(UUID())"
        try await withNodes(1, host: { node, _ in
            try await node.host(replicas: 1, queueCapacity: 1) { Stockroom(actorSystem: $0) }
        }) { _, caller in
            let stockroom = try Stockroom.service(in: caller)
            let first = Task { try await stockroom.hold("\(key)-0") }
            _ = await Observations.shared.waitFor(key + "-0", timeout: .seconds(30)) { !$0.isEmpty }
            // The replica runs one call, the next waits for it (handed to the
            // replica's pool, it counts against the queue), so of three more
            // at least one is refused at once, while the others are held; the
            // system's capacity (1024) would take them all.
            let refused = await withTaskGroup(of: Bool.self) { group in
                for index in 1...3 {
                    group.addTask {
                        do {
                            _ = try await stockroom.hold("\(key)-\(index)")
                            return false
                        } catch {
                            return (error as? RemoteCallError)?.code == .overloaded
                        }
                    }
                }
                // The first to end is a refusal, unless none is refused: then
                // the held calls end at their gates' minute and this fails.
                let firstEnded = await group.next() ?? false
                for index in 0...3 { Observations.shared.release("\(key)-\(index)") }
                return firstEnded
            }
            _ = try await first.value
            #expect(refused, "4 calls held on a replica with a queue of 1")
        }
    }

    @Test func setupMistakesAreConfigurationErrors() async throws {
        func code(_ body: () async throws -> Void) async -> ConfigurationError.Code? {
            do {
                try await body()
                return nil
            } catch let error as ConfigurationError {
                return error.code
            } catch {
                Issue.record("not a ConfigurationError: \(error)")
                return nil
            }
        }
        let discovery = LocalDiscovery()
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery))
        #expect(await code { try await caller.host { Stockroom(actorSystem: $0) } } == .noEndpoint)
        let node = try CortSystem.start(.init(name: "node", discovery: discovery, endpoint: "tcp://127.0.0.1:0"))
        #expect(await code { try await node.host("") { Stockroom(actorSystem: $0) } } == .invalidServiceName)
        #expect(await code { try await node.host(String(repeating: "s", count: 300)) { Stockroom(actorSystem: $0) } }
                == .invalidServiceName)
        #expect(await code { try await node.host(replicas: 0) { Stockroom(actorSystem: $0) } } == .invalidValue)
        #expect(await code { try await node.host(queueCapacity: 0) { Stockroom(actorSystem: $0) } } == .invalidValue)
        try await node.host { Stockroom(actorSystem: $0) }
        #expect(await code { try await node.host { Stockroom(actorSystem: $0) } } == .duplicateService)
        #expect(await code { _ = try CortSystem.start(.init(name: "bad", discovery: discovery,
                                                               endpoint: "tcp://127.0.0.1:not-a-port")) } == .cannotServe)
        await node.shutdown()
        #expect(await code { try await node.host { TallyCounter(actorSystem: $0) } } == .shutDown)
        await caller.shutdown()
    }

    @Test func aSystemIsQuietUnlessGivenALogger() {
        let configuration = CortSystem.Configuration(name: "quiet", discovery: LocalDiscovery())
        #expect(configuration.logger.handler is SwiftLogNoOpLogHandler)
    }
}
