/// One frame of cort's wire protocol, version 1 (see docs/PROTOCOL.md).
///
/// Every envelope is a MessagePack array that starts with
/// `[version, kind, id]`; `WireCodec` writes and reads them.
///
/// ```swift
/// var frame: [UInt8] = []
/// WireCodec.encode(.reply(id: 7, result: encodedGreeting), into: &frame)
/// let envelope = try frame.withUnsafeBytes { try WireCodec.decode($0, limits: WireLimits()) }
/// ```
package enum Envelope: Sendable, Equatable {
    /// A call from a caller to a node.
    case request(CallRequest)
    /// The call's return value, MessagePack-encoded, or nil for a method that returns `Void`.
    case reply(id: UInt64, result: [UInt8]?)
    /// The call produced no value (the envelope kind `error`).
    case failure(id: UInt64, CallFailure)
    /// The caller no longer waits for the call; the node stops it and sends no answer.
    case cancel(id: UInt64)
    /// A heartbeat from a caller.
    case ping(sequence: UInt64)
    /// A node's answer to a ping: how many more calls it can take, and its
    /// incarnation (a random number chosen when the node started), so a
    /// caller can tell a restarted node from the one it knew.
    case pong(sequence: UInt64, freeSlots: UInt32, incarnation: UInt64)
    /// A node is shutting down: send it no new calls; the calls it accepted
    /// will still be answered.
    case draining(incarnation: UInt64)
    /// A caller asks what the node hosts (the `cort describe` command).
    case describe(sequence: UInt64)
    /// A node's answer to `describe`: the services this caller may call, with their methods.
    case description(sequence: UInt64, services: [ServiceDescription])

    /// The call id (for ping and pong, the sequence number) in the envelope's header.
    package var id: UInt64 {
        switch self {
        case .request(let request): request.id
        case .reply(let id, _), .failure(let id, _), .cancel(let id): id
        case .ping(let sequence), .pong(let sequence, _, _), .describe(let sequence), .description(let sequence, _):
            sequence
        case .draining: 0
        }
    }

    /// Whether this answers a call (a reply or an error): what a batch of answers carries.
    var isAnswer: Bool {
        switch self {
        case .reply, .failure: true
        default: false
        }
    }

    /// Whether this answers a request with a value (a reply or a description):
    /// one that can grow past the envelope limit.
    var isAnswerWithValue: Bool {
        switch self {
        case .reply, .description: true
        default: false
        }
    }
}

/// One service a node hosts, as it describes it to a caller.
package struct ServiceDescription: Sendable, Hashable {
    /// The service's name (`greeter`).
    package let name: String
    /// The hosted actor type, `Module.Type`.
    package let actorType: String
    /// Its distributed methods (empty where the node cannot list them).
    package let methods: [MethodDescription]

    package init(name: String, actorType: String, methods: [MethodDescription]) {
        self.name = name
        self.actorType = actorType
        self.methods = methods
    }
}
