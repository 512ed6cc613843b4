// A MessagePack round trip over ZeroMQ: a node with a ROUTER and a caller with
// a DEALER, each an actor on its own reactor thread, talking over
// tcp://127.0.0.1. The caller sends a `Greeting`, the node decodes it,
// answers with a `Reply`, and the caller decodes that; then it repeats the
// round trip to show what one costs.
import CortMessagePack
import CortZeroMQ
import Foundation

struct Greeting: Codable, Sendable {
    var name: String
    var times: Int
    var sentAt: Date
}

struct Reply: Codable, Sendable {
    var text: String
    var servedBy: String
    var roundTrip: Int
}

/// The serving side: one ROUTER, answers every greeting it receives.
actor Node {
    let reactor: ZeroMQReactor
    let router: ZeroMQSocket
    let endpoint: String
    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }

    init(context: ZeroMQContext, reactor: ZeroMQReactor) throws {
        self.reactor = reactor
        router = try ZeroMQSocket(.router, context: context, reactor: reactor)
        try router.set(.routerMandatory, true)  // a reply to a vanished caller is an error, not a silent drop
        endpoint = try router.bind("tcp://127.0.0.1:*")
    }

    /// Answers `count` greetings, then returns.
    func serve(count: Int) async throws {
        let decoder = MessagePackDecoder()
        let encoder = MessagePackEncoder()
        for served in 0..<count {
            var request = try await router.receive()
            let caller = request.removeFirst()  // ROUTER puts the caller's routing id first
            let greeting = try request.withFrame(at: 0) { try decoder.decode(Greeting.self, from: $0) }
            let text = Array(repeating: "Hello, \(greeting.name)!", count: greeting.times).joined(separator: " ")
            let reply = try encoder.encode(Reply(text: text, servedBy: endpoint, roundTrip: served))
            var message = ZeroMQMessage(frameCapacity: 2)
            message.append(caller)
            message.append(noCopy: reply)
            try await router.send(message)
        }
    }
}

/// The calling side: one DEALER, one request in flight.
actor Caller {
    let reactor: ZeroMQReactor
    let dealer: ZeroMQSocket
    let encoder = MessagePackEncoder()
    let decoder = MessagePackDecoder()
    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }

    init(context: ZeroMQContext, reactor: ZeroMQReactor, endpoint: String) throws {
        self.reactor = reactor
        dealer = try ZeroMQSocket(.dealer, context: context, reactor: reactor)
        try dealer.connect(endpoint)
    }

    /// One round trip; returns the reply and both encodings' sizes.
    func call(_ greeting: Greeting) async throws -> (reply: Reply, request: [UInt8], replySize: Int) {
        let request = try encoder.encode(greeting)
        try await dealer.send(ZeroMQMessage([request]))
        let answer = try await dealer.receive()
        let reply = try answer.withFrame(at: 0) { try decoder.decode(Reply.self, from: $0) }
        return (reply, request, answer.frameSize(at: 0))
    }

    /// `count` round trips; returns each one's duration, measured on the reactor.
    func timedCalls(_ count: Int) async throws -> [Duration] {
        let clock = ContinuousClock()
        var durations: [Duration] = []
        durations.reserveCapacity(count)
        for _ in 0..<count {
            let started = clock.now
            _ = try await call(Greeting(name: "Grace", times: 1, sentAt: Date()))
            durations.append(clock.now - started)
        }
        return durations
    }
}

func microseconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    return String(format: "%.1f µs", Double(seconds) * 1e6 + Double(attoseconds) / 1e12)
}

let timedRoundTrips = 10_000
let context = try ZeroMQContext()
let nodeReactor = try ZeroMQReactor.start(name: "node-reactor")
let callerReactor = try ZeroMQReactor.start(name: "caller-reactor")
defer {
    callerReactor.shutdown()
    nodeReactor.shutdown()
}

let node = try Node(context: context, reactor: nodeReactor)
let caller = try Caller(context: context, reactor: callerReactor, endpoint: node.endpoint)
print("cort: a MessagePack round trip over ZeroMQ")
print("  node    ROUTER bound at \(node.endpoint), on its own reactor thread")
print("  caller  DEALER connected to it, on another reactor thread")

let serving = Task { try await node.serve(count: 1 + timedRoundTrips) }

let greeting = Greeting(name: "Ada", times: 3, sentAt: Date())
let first = try await caller.call(greeting)
let preview = first.request.prefix(16).map { String(format: "%02x", $0) }.joined(separator: " ")
print("")
print("  sent     Greeting(name: \"\(greeting.name)\", times: \(greeting.times), sentAt: \(greeting.sentAt))")
print("           as \(first.request.count) bytes of MessagePack: \(preview) …")
print("  received Reply(text: \"\(first.reply.text)\", servedBy: \"\(first.reply.servedBy)\")")
print("           from \(first.replySize) bytes of MessagePack")

let started = ContinuousClock.now
var durations = try await caller.timedCalls(timedRoundTrips)
let elapsed = ContinuousClock.now - started
try await serving.value
durations.sort()
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
print("")
print("  then \(timedRoundTrips) round trips, one in flight (encode, send, decode, answer, decode):")
print("    p50 \(microseconds(durations[durations.count / 2]))   p99 \(microseconds(durations[durations.count * 99 / 100]))   max \(microseconds(durations[durations.count - 1]))")
print("    \(Int(Double(timedRoundTrips) / seconds)) round trips per second")
