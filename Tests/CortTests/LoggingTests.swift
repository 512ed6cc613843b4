import CortTesting
import Distributed
import Foundation
import Logging
import Testing
@testable import Cort

/// Logs through the call's logger.
distributed actor LoggingEcho {
    typealias ActorSystem = CortSystem

    distributed func note(_ text: String) -> Bool {
        CallContext.current?.logger.notice("from the method")
        return true
    }
}

@Suite("Logs by swift-log's guidance for libraries")
struct LoggingTests {
    @Test("routine work (start, host, calls, shutdown) logs at debug or trace only, with namespaced keys")
    func routineWorkIsQuietAboveDebug() async throws {
        let recorder = LogRecorder()
        let discovery = LocalDiscovery()
        let node = try CortSystem.start(.init(name: "node", discovery: discovery, endpoint: "tcp://127.0.0.1:0",
                                              logger: recorder.logger))
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(30),
                                                logger: recorder.logger))
        try await node.host("greeter", replicas: 2) { Greeter(actorSystem: $0) }
        let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
        for index in 0..<20 { _ = try await greeter.hello(name: "n\(index)") }
        await caller.shutdown()
        await node.shutdown()
        let entries = recorder.entries
        #expect(!entries.isEmpty, "debug lines were expected (hosting, nodes joining)")
        let loud = entries.filter { $0.level > .debug }
        #expect(loud.isEmpty, "\(loud.map { "\($0.level) \($0.message)" })")
        let keys = Set(entries.flatMap { $0.metadata.keys })
        #expect(keys.allSatisfy { $0.hasPrefix("cort.") }, "\(keys.sorted())")
        // No payload: the names the caller sent never appear.
        #expect(!entries.contains { "\($0.message) \($0.metadata)".contains("n7") })
    }

    @Test("a method's logger carries the call's service, method, id and caller")
    func callLogger() async throws {
        let recorder = LogRecorder()
        try await withNodeAndCaller(
            node: { .init(name: "node", discovery: $0, endpoint: "tcp://127.0.0.1:0", logger: recorder.logger(level: .notice)) },
            caller: { .init(name: "caller", discovery: $0, defaultTimeout: .seconds(30)) },
            host: { try await $0.host("echo") { LoggingEcho(actorSystem: $0) } }
        ) { _, caller in
            let echo = try LoggingEcho.resolve(id: .service("echo"), using: caller)
            _ = try await echo.note("secret-argument")
        }
        let line = try #require(recorder.entries.first { $0.message == "from the method" })
        #expect(line.metadata["cort.service"] == "echo")
        #expect(line.metadata["cort.method"] == "LoggingEcho.note(_:)")
        #expect(UInt64(line.metadata["cort.call.id"] ?? "") != nil)
        #expect(line.metadata["cort.caller"]?.hasPrefix("c:") == true)
        #expect(!"\(line.metadata)".contains("secret-argument"))
    }
}
