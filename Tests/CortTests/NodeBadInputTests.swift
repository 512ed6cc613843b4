import CortMessagePack
import CortZeroMQ
import Distributed
import Foundation
import Testing
@testable import Cort

/// A node that receives garbage answers with an error where it can and goes on
/// serving everyone else. Each case is sent as raw frames from a plain
/// ZeroMQ socket.
@Suite struct NodeBadInputTests {
    /// A real request for `Greeter.hello(name:)`, captured on the wire: a
    /// caller calls a "node" that is a plain ROUTER owned by the test.
    static func capturedHelloRequest() async throws -> CallRequest {
        let discovery = LocalDiscovery()
        let fakeNode = try RawSocket(.router)
        let endpoint = try fakeNode.socket.bind("tcp://127.0.0.1:*")
        try await discovery.register(ServiceInstance(service: "capture", id: "capture@test", endpoint: endpoint))
        let caller = try CortSystem.start(.init(name: "capturer", discovery: discovery, defaultTimeout: .seconds(30)))
        let greeter = try Greeter.resolve(id: .service("capture"), using: caller)
        let call = Task { try await greeter.hello(name: "captured") }
        defer { call.cancel() }
        // The caller pings first and sends the call once the "node" answers.
        var captured: CallRequest?
        for _ in 0..<10 where captured == nil {
            let frames = try #require(try await fakeNode.receive(within: .seconds(30)))
            #expect(frames.count == 2)
            let envelope = try frames[1].withUnsafeBytes { try WireCodec.decode($0, limits: WireLimits()) }
            switch envelope {
            case .ping(let sequence):
                var pong: [UInt8] = []
                WireCodec.encode(.pong(sequence: sequence, freeSlots: 1, incarnation: 1), into: &pong)
                #expect(try fakeNode.socket.trySend(ZeroMQMessage([frames[0], pong])) == nil)
            case .request(let request):
                captured = request
            default:
                Issue.record("expected a ping or a request, got \(envelope)")
            }
        }
        let request = try #require(captured)
        call.cancel()
        _ = await call.result
        await caller.shutdown()
        return request
    }

    @Test func everyKindOfGarbageIsAnsweredAndTheNodeKeepsServing() async throws {
        let template = try await Self.capturedHelloRequest()
        #expect(template.method.contains("hello"))
        try await withNodes(1, host: { node, _ in
            try await node.host("greeter") { Greeter(actorSystem: $0) }
        }) { nodes, caller in
            let raw = try RawSocket(.dealer)
            try raw.socket.connect(try #require(nodes[0].endpoint))

            func exchange(_ frames: [[UInt8]]) async throws -> Envelope? {
                guard let reply = try await raw.exchange(frames, within: .seconds(30)), reply.count == 1 else { return nil }
                return try reply[0].withUnsafeBytes { try WireCodec.decode($0, limits: WireLimits()) }
            }
            func request(_ change: (inout CallRequest) -> Void) -> [UInt8] {
                var request = template
                request.service = "greeter"
                request.id = 77
                request.timeout = .seconds(30)
                change(&request)
                var bytes: [UInt8] = []
                WireCodec.encode(.request(request), into: &bytes)
                return bytes
            }
            func expectFailure(_ envelope: Envelope?, id: UInt64, _ code: RemoteCallError.Code,
                               sourceLocation: SourceLocation = #_sourceLocation) {
                guard case .failure(let answeredID, let failure) = envelope else {
                    Issue.record("expected an error answer, got \(String(describing: envelope))", sourceLocation: sourceLocation)
                    return
                }
                #expect(answeredID == id, sourceLocation: sourceLocation)
                #expect(failure.code == code, "\(failure.message)", sourceLocation: sourceLocation)
            }

            // A well-formed request works.
            guard case .reply(77, let result?) = try await exchange([request { _ in }]) else {
                Issue.record("the well-formed request got no reply")
                return
            }
            #expect(try MessagePackDecoder().decode(String.self, from: result) == "Hello, captured!")

            // Random bytes.
            var generator = SystemRandomNumberGenerator()
            let noise = (0..<64).map { _ in UInt8.random(in: 0...255, using: &generator) }
            expectFailure(try await exchange([[0xc1] + noise]), id: 0, .protocolError)
            // A truncated envelope: the header is readable, so the id comes back.
            let whole = request { _ in }
            expectFailure(try await exchange([Array(whole.prefix(whole.count / 2))]), id: 77, .protocolError)
            // A wrong version.
            var wrongVersion = whole
            wrongVersion[1] = 0x02
            expectFailure(try await exchange([wrongVersion]), id: 77, .protocolError)
            // An unknown service and an unknown target.
            expectFailure(try await exchange([request { $0.service = "nope" }]), id: 77, .unknownTarget)
            expectFailure(try await exchange([request { $0.target = "$s4Nope4NopeC4nopeyyYaKFTE" }]), id: 77, .unknownTarget)
            // Arguments of the wrong type, and a missing argument.
            let number = try MessagePackEncoder().encode(42)
            expectFailure(try await exchange([request { $0.arguments = [number] }]), id: 77, .badArguments)
            expectFailure(try await exchange([request { $0.arguments = [] }]), id: 77, .badArguments)
            // An expired deadline: refused without running.
            expectFailure(try await exchange([request { $0.timeout = .zero }]), id: 77, .deadlineExceeded)
            // A frame over the size limit, encoded on a thread of its own:
            // a debug build takes most of a second for it, a second the
            // cooperative pool's few threads owe the tests beside this one.
            let oversized = try await onOwnThread { [template] () throws -> [UInt8] in
                var request = template
                request.service = "greeter"
                request.id = 77
                request.timeout = .seconds(30)
                request.arguments = [try MessagePackEncoder().encode(
                    [UInt8](repeating: 0x61, count: WireLimits().maxEnvelopeBytes + 1024))]
                var bytes: [UInt8] = []
                WireCodec.encode(.request(request), into: &bytes)
                return bytes
            }
            expectFailure(try await exchange([oversized]), id: 77, .messageTooLarge)
            // Two envelope frames.
            expectFailure(try await exchange([whole, whole]), id: 0, .protocolError)

            // The node still serves everyone else.
            let greeter = try Greeter.resolve(id: .service("greeter"), using: caller)
            #expect(try await greeter.hello(name: "after") == "Hello, after!")
            #expect(try await nodes[0].nodeCounters().badFrames >= 4)
        }
    }
}

/// A plain ZeroMQ socket whose blocking waits run on a thread of their own,
/// never on Swift's cooperative pool: with 2 cores that pool has 2 threads,
/// and a test blocking one of them while the node it waits for needs them
/// would starve the very answer it waits for.
final class RawSocket: @unchecked Sendable {
    // @unchecked: the socket is used by one thread at a time: the test's,
    // or the one thread `onOwnThread` starts while the test awaits it.
    let socket: ZeroMQSocket
    private let context: ZeroMQContext

    init(_ kind: ZeroMQSocket.Kind) throws {
        context = try ZeroMQContext()
        socket = try ZeroMQSocket(kind, context: context)
    }

    /// Receives one whole message within `timeout`, or nil.
    func receive(within timeout: Duration) async throws -> [[UInt8]]? {
        try await onOwnThread {
            guard try self.socket.poll(.readable, timeout: timeout).contains(.readable) else { return nil }
            return try self.socket.tryReceive()?.copyFrames()
        }
    }

    /// Sends `frames`, then receives one whole message within `timeout`, or nil.
    func exchange(_ frames: [[UInt8]], within timeout: Duration) async throws -> [[UInt8]]? {
        guard try socket.trySend(ZeroMQMessage(frames)) == nil else { return nil }
        return try await receive(within: timeout)
    }
}

/// Runs `body` on a new thread and returns what it returns.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread {
            continuation.resume(with: Result { try body() })
        }
    }
}
