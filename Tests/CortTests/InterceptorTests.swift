import Distributed
import Foundation
import Synchronization
import Testing
@testable import Cort

/// Adds a metadata entry to every call, and records what it saw.
final class TaggingInterceptor: ClientInterceptor {
    let name: String
    let seen: Mutex<[String]>

    init(name: String) {
        self.name = name
        seen = Mutex([])
    }

    func intercept(_ call: ClientCall,
                   next: (ClientCall) async throws -> ClientCallResult) async throws -> ClientCallResult {
        var call = call
        call.metadata["order", default: ""] += name
        seen.withLock { $0.append("\(name) \(call.method)") }
        return try await next(call)
    }
}

/// Refuses calls without the token, with the code it is given.
struct TokenCheck: ServerInterceptor {
    let token: String
    let code: RemoteCallError.Code

    func intercept(_ call: ServerCall,
                   next: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult {
        guard call.context.metadata["token"] == token else {
            throw RemoteCallError(code, "no token")
        }
        return try await next(call)
    }
}

/// Records the code of every call a node ran, in order of the interceptors.
final class ServerRecorder: ServerInterceptor {
    let name: String
    let events = Mutex<[String]>([])

    init(name: String) { self.name = name }

    func intercept(_ call: ServerCall,
                   next: (ServerCall) async throws -> ServerCallResult) async throws -> ServerCallResult {
        events.withLock { $0.append("\(name) in \(call.context.method) queued>=0:\(call.queued >= .zero)") }
        do {
            let result = try await next(call)
            events.withLock { $0.append("\(name) out \(result.code.map { "\($0)" } ?? "ok")") }
            return result
        } catch let error as RemoteCallError {
            // An inner interceptor refused it: the error goes on outward.
            events.withLock { $0.append("\(name) threw \(error.code)") }
            throw error
        }
    }
}

/// Echoes the metadata the method saw.
distributed actor MetadataEcho {
    typealias ActorSystem = CortSystem

    distributed func metadata(_ key: String) -> String {
        CallContext.current?.metadata[key] ?? "-"
    }

    distributed func fail() throws -> Int {
        throw Unregistered()
    }
}

@Suite("Interceptors on both sides, and the attempts a call records")
struct InterceptorTests {
    @Test("client interceptors run outermost first and their metadata reaches the method")
    func clientInterceptorsAddMetadata() async throws {
        let outer = TaggingInterceptor(name: "a")
        let inner = TaggingInterceptor(name: "b")
        let discovery = LocalDiscovery()
        let node = try CortSystem.start(.init(name: "node", discovery: discovery, endpoint: "tcp://127.0.0.1:0"))
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(30),
                                                clientInterceptors: [outer, inner]))
        try await shuttingDown([caller, node]) {
            try await node.host("echo") { MetadataEcho(actorSystem: $0) }
            let echo = try MetadataEcho.resolve(id: .service("echo"), using: caller)
            let order = try await echo.metadata("order")
            #expect(order == "ab")
            #expect(outer.seen.withLock { $0 } == ["a MetadataEcho.metadata(_:)"])
            #expect(inner.seen.withLock { $0 } == ["b MetadataEcho.metadata(_:)"])
        }
    }

    @Test("a server interceptor that throws refuses the call with its code, and the method does not run")
    func serverInterceptorRefuses() async throws {
        let recorder = ServerRecorder(name: "system")
        let discovery = LocalDiscovery()
        let node = try CortSystem.start(.init(name: "node", discovery: discovery, endpoint: "tcp://127.0.0.1:0",
                                              serverInterceptors: [recorder]))
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(30)))
        try await shuttingDown([caller, node]) {
            try await node.host("echo", interceptors: [TokenCheck(token: "s3cret", code: .permissionDenied)]) {
                MetadataEcho(actorSystem: $0)
            }
            let echo = try MetadataEcho.resolve(id: .service("echo"), using: caller)
            let refused = await #expect(throws: RemoteCallError.self) { _ = try await echo.metadata("token") }
            #expect(refused?.code == .permissionDenied)
            #expect(refused?.message.contains("no token") == true)
            let seen = try await withCallOptions(metadata: ["token": "s3cret"]) { try await echo.metadata("token") }
            #expect(seen == "s3cret")
            // The system's interceptor is outside the service's: it saw both calls, and how each ended.
            #expect(recorder.events.withLock { $0 } == [
                "system in MetadataEcho.metadata(_:) queued>=0:true", "system threw permission denied",
                "system in MetadataEcho.metadata(_:) queued>=0:true", "system out ok",
            ])
        }
    }

    @Test("a call moved to another node carries both attempts; an error says what each attempt did")
    func attemptsAreRecorded() async throws {
        let discovery = LocalDiscovery()
        let busy = try CortSystem.start(.init(name: "busy", discovery: discovery, endpoint: "tcp://127.0.0.1:0"))
        let free = try CortSystem.start(.init(name: "free", discovery: discovery, endpoint: "tcp://127.0.0.1:0"))
        final class Spy: ClientInterceptor {
            let attempts = Mutex<[CallAttempt]>([])
            func intercept(_ call: ClientCall,
                           next: (ClientCall) async throws -> ClientCallResult) async throws -> ClientCallResult {
                let result = try await next(call)
                attempts.withLock { $0 = result.attempts }
                return result
            }
        }
        let spy = Spy()
        let caller = try CortSystem.start(.init(name: "caller", discovery: discovery, defaultTimeout: .seconds(30),
                                                clientInterceptors: [spy]))
        try await shuttingDown([caller, busy, free]) {
            // The busy node refuses every call as overloaded (it did not run), so each moves to the free one.
            try await busy.host("echo", interceptors: [TokenCheck(token: "never", code: .overloaded)]) {
                MetadataEcho(actorSystem: $0)
            }
            try await free.host("echo") { MetadataEcho(actorSystem: $0) }
            let echo = try MetadataEcho.resolve(id: .service("echo"), using: caller)
            var sawFailover = false
            // Until round robin sends a call to the busy node first: it
            // takes calls once it answered its first ping, which comes in
            // its own time however fast the calls go (a deadline, not a count).
            let deadline = ContinuousClock.now + .seconds(10)
            while !sawFailover && ContinuousClock.now < deadline {
                _ = try await echo.metadata("x")
                let recorded = spy.attempts.withLock { $0 }
                if recorded.count == 2 {
                    sawFailover = true
                    #expect(recorded[0].outcome == .failed(.overloaded))
                    #expect(recorded[0].node.contains(try #require(busy.endpoint)))
                    #expect(recorded[1].outcome == .answered)
                    #expect(recorded[1].node.contains(try #require(free.endpoint)))
                    #expect(recorded[1].startedAfter >= recorded[0].startedAfter + recorded[0].duration)
                }
            }
            #expect(sawFailover, "round robin sends a call to the busy node first")

            let error = await #expect(throws: RemoteCallError.self) {
                _ = try await withCallOptions(metadata: ["token": "never"]) { try await echo.fail() }
            }
            let failed = try #require(error)
            #expect(failed.code == .remoteApplicationError)
            #expect(failed.attempts.count == 1)
            #expect(failed.attempts.first?.outcome == .failed(.remoteApplicationError))
            #expect(failed.description.contains("attempts: echo@"))
        }
    }
}
