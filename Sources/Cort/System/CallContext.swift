import Logging

/// What a hosted method knows of the call it serves, while it serves it.
///
/// A node sets it for the whole of a method's run: read it anywhere below
/// the method (it is a task-local value).
///
/// ```swift
/// distributed actor Orders {
///     typealias ActorSystem = CortSystem
///     distributed func place(_ order: Order) async throws -> Receipt {
///         let context = CallContext.current          // nil when called locally
///         context?.logger.debug("placing")          // with cort.service, cort.method, cort.call.id
///         // Calls made here inherit what is left of this call's deadline, and
///         // are cancelled with it; metadata is forwarded when asked for:
///         let options = CallOptions(metadata: context?.metadata ?? [:])
///         return try await CallOptions.$current.withValue(options) {
///             try await payments.charge(order.total)
///         }
///     }
/// }
/// ```
///
/// Outgoing calls made while a context is current get the time left to its
/// deadline as their timeout; a shorter ``CallOptions/timeout`` wins.
/// Cancelling the served call (the caller cancelled, left, or the deadline
/// passed) cancels the method's task, and with it those calls.
public struct CallContext: Sendable {
    /// The call's id, as the caller chose it (unique per caller connection).
    public var callID: UInt64 { storage.callID }
    /// The hosted service the call was addressed to (for a call to one actor
    /// instance, the service or type that actor belongs to).
    public var service: String { storage.service }
    /// The method's readable name (`Greeter.hello(name:)`), as this node reads
    /// it from the target, never as the caller wrote it.
    public var method: String { storage.method }
    /// The metadata the caller sent (``CallOptions/metadata``): trace context
    /// and whatever else the caller added.
    public var metadata: [String: String] { storage.metadata }
    /// Who made the call.
    public var caller: CallerIdentity { storage.caller }
    /// Whether the caller marked the call idempotent.
    public var isIdempotent: Bool { storage.isIdempotent }
    /// The deadline, on the node's clock.
    var deadline: Duration { storage.deadline }
    var clock: RuntimeClock { storage.clock }
    /// The system's logger, to which ``logger`` adds the call's metadata.
    var systemLogger: Logger { storage.systemLogger }

    /// Everything, behind one reference: a context is copied several times
    /// a call (into the pool's job, the task-local value, the interceptors'
    /// call), and as a struct of a dozen references each copy and each
    /// destruction cost a retain or a release of every one (callgrind, the
    /// node at 64 calls in flight: about 600 instructions a call).
    private let storage: Storage

    private final class Storage: Sendable {
        let callID: UInt64
        let service: String
        let method: String
        let metadata: [String: String]
        let caller: CallerIdentity
        let isIdempotent: Bool
        let deadline: Duration
        let clock: RuntimeClock
        let systemLogger: Logger

        init(callID: UInt64, service: String, method: String, metadata: [String: String], caller: CallerIdentity,
             isIdempotent: Bool, deadline: Duration, clock: RuntimeClock, systemLogger: Logger) {
            self.callID = callID
            self.service = service
            self.method = method
            self.metadata = metadata
            self.caller = caller
            self.isIdempotent = isIdempotent
            self.deadline = deadline
            self.clock = clock
            self.systemLogger = systemLogger
        }
    }

    init(callID: UInt64, service: String, method: String, metadata: [String: String], caller: CallerIdentity,
         isIdempotent: Bool, deadline: Duration, clock: RuntimeClock, logger: Logger) {
        storage = Storage(callID: callID, service: service, method: method, metadata: metadata, caller: caller,
                          isIdempotent: isIdempotent, deadline: deadline, clock: clock, systemLogger: logger)
    }

    /// The system's logger (quiet unless the system was given one) with the
    /// call's metadata: `cort.service`, `cort.method`, `cort.call.id` and
    /// `cort.caller` (the caller's identity; never the call's arguments or
    /// the caller's metadata values), for the method's own log lines.
    public var logger: Logger {
        var logger = systemLogger
        logger[metadataKey: "cort.service"] = "\(service)"
        logger[metadataKey: "cort.method"] = "\(method)"
        logger[metadataKey: "cort.call.id"] = "\(callID)"
        logger[metadataKey: "cort.caller"] = "\(caller)"
        return logger
    }

    /// The time left until the call's deadline (zero once it passed). The
    /// node caps what a caller asks for at ``NodeLimits/maxCallDuration``.
    public var timeRemaining: Duration {
        max(deadline - clock.now, .zero)
    }

    /// The call being served by the current task, or nil outside a hosted method.
    @TaskLocal public static var current: CallContext?
}

/// Who made a call, as the node knows the caller.
///
/// With CURVE security (``Security/curve(keyPair:allowedCallers:)``) it is
/// the caller's public key, which the handshake proved: the same for every
/// connection of that caller, on every node, and what ``ServiceAccess``
/// rules name. In plaintext it is an opaque identity that is stable for as
/// long as the caller's connection (its `RemoteService`) lives.
///
/// Hashable, so it can key per-caller state (quotas, audit); its
/// description is printable and safe to log.
///
/// ```swift
/// guard let caller = CallContext.current?.caller.publicKey, admins.contains(caller) else {
///     throw AdminError.notAllowed
/// }
/// ```
public struct CallerIdentity: Hashable, Sendable, CustomStringConvertible {
    /// The ZeroMQ routing id the caller's connection presented.
    let routingID: [UInt8]
    /// The caller's CURVE public key, proved by the handshake; nil in plaintext.
    public let publicKey: CurveKey?

    init(routingID: [UInt8], publicKey: CurveKey? = nil) {
        self.routingID = routingID
        self.publicKey = publicKey
    }

    public static func == (lhs: CallerIdentity, rhs: CallerIdentity) -> Bool {
        if lhs.publicKey != nil || rhs.publicKey != nil { return lhs.publicKey == rhs.publicKey }
        return lhs.routingID == rhs.routingID
    }

    public func hash(into hasher: inout Hasher) {
        if let publicKey { hasher.combine(publicKey) } else { hasher.combine(routingID) }
    }

    /// The identity as printable text: `curve:` and the public key in Z85
    /// with CURVE; else the routing id when it is printable ASCII (cort
    /// callers use `c:` and 32 hex digits), or its bytes in hex.
    public var description: String {
        if let publicKey { return "curve:" + publicKey.z85 }
        if !routingID.isEmpty, routingID.allSatisfy({ $0 >= 0x21 && $0 < 0x7f }) {
            return String(decoding: routingID, as: UTF8.self)
        }
        return "0x" + routingID.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}
