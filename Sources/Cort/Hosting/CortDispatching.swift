import CortMessagePack
import Distributed

/// Conforms a distributed actor to ``CortService`` and lets a node run its
/// distributed methods directly, on the replica, without the runtime's
/// generic path (see ``CortDispatching``).
///
/// ```swift
/// @CortService
/// distributed actor Greeter {
///     typealias ActorSystem = CortSystem
///     distributed func hello(name: String) -> String { "Hello, \(name)!" }
/// }
/// ```
///
/// Callers see no difference: the wire, the errors and the deadlines are the
/// same. A hosted type without it is served by the runtime's path, as before.
@attached(extension, conformances: CortService, CortDispatching, names: named(_cortDispatch), named(_cortDispatchSync))
public macro CortService() = #externalMacro(module: "CortMacros", type: "CortServiceMacro")

/// A hosted type that runs its own distributed methods by name: what
/// `@CortService` writes. Not meant to be written by hand.
///
/// A node hosting it runs each replica's worker on the replica itself and
/// calls the method there as a plain isolated call: a call then enters and
/// leaves the replica once per worker rather than once per call, which on a
/// task executor (the node's reactor) costs a round trip through its queue
/// each way; and the arguments are decoded by their known types, without the
/// runtime reading the target's types.
public protocol CortDispatching: DistributedActor where ActorSystem == CortSystem {
    /// Runs `method` (`hello(name:)`) on `actor`, its arguments read from
    /// `arguments` in order; ``CortDispatchResult/notDispatched`` for a
    /// method it does not run (before reading anything). Throws what the
    /// method threw or what reading its arguments or encoding its result threw.
    static func _cortDispatch(_ actor: isolated Self, method: String, arguments: inout CortInvocationDecoder)
        async throws -> CortDispatchResult

    /// The same for the methods that are not `async`, called without an
    /// async frame or a switch; ``CortDispatchResult/notDispatched`` for the
    /// others, which ``_cortDispatch(_:method:arguments:)`` runs.
    static func _cortDispatchSync(_ actor: isolated Self, method: String, arguments: inout CortInvocationDecoder)
        throws -> CortDispatchResult
}

extension CortDispatching {
    /// No method runs synchronously (a type whose methods are all `async`).
    public static func _cortDispatchSync(_ actor: isolated Self, method: String,
                                         arguments: inout CortInvocationDecoder) throws -> CortDispatchResult {
        .notDispatched
    }
}

/// What a generated dispatch did with a call.
public enum CortDispatchResult: Sendable {
    /// It ran the method: its result's MessagePack bytes, nil for `Void`.
    case returned([UInt8]?)
    /// It has no case for the method (the runtime's path runs it). A value,
    /// not an error: nothing a method throws can be taken for it.
    case notDispatched
}

extension CortDispatching {
    /// The result's bytes, as the runtime's path encodes them.
    public static func _cortEncode<Result: Encodable>(_ result: Result) throws -> [UInt8] {
        do {
            return try MessagePackEncoder().encode(result)
        } catch {
            throw DirectDispatch.UnencodableResult(type: "\(Result.self)", error: error)
        }
    }
}

/// A replica's generated dispatch, as its worker calls it: isolated to the
/// replica, so a worker running on the replica calls it without a switch.
final class ReplicaDispatch: @unchecked Sendable {
    // @unchecked: `run` is isolated to the replica it was made for, so
    // every call runs there, whoever makes it.
    let run: @isolated(any) (String, inout CortInvocationDecoder) async throws -> CortDispatchResult
    /// The replica as an actor: where its worker's loop runs (see `WorkerPool.isolation`).
    let isolation: any Actor
    /// The keys (`hello(name:)`) the dispatch may run (see ``keys(of:)``).
    let keys: Set<String>
    /// `_cortDispatchSync` on the replica, with its isolation taken as given:
    /// call it only through ``runSync(_:_:on:)``.
    private let unisolatedSync: @Sendable (String, inout CortInvocationDecoder) throws -> CortDispatchResult

    private init(isolation: any Actor, keys: Set<String>,
                 sync: @escaping @Sendable (String, inout CortInvocationDecoder) throws -> CortDispatchResult,
                 _ run: @escaping @isolated(any) (String, inout CortInvocationDecoder) async throws -> CortDispatchResult) {
        self.isolation = isolation
        self.keys = keys
        self.unisolatedSync = sync
        self.run = run
    }

    /// Runs `method` through the type's synchronous dispatch, when the
    /// caller is isolated to this replica (`isolation`, which is then the
    /// replica itself: a worker's loop on it); nil when it is not, which
    /// does not happen for a worker of this replica's pool.
    ///
    /// A plain call, where `run` is an async call: no frame from the task's
    /// allocator and no switch, each of which looks up the task's executor
    /// preference under its status-record lock.
    func runSync(_ method: String, _ arguments: inout CortInvocationDecoder,
                 on isolation: isolated (any Actor)?) throws -> CortDispatchResult? {
        guard let isolation, isolation === self.isolation else { return nil }
        return try unisolatedSync(method, &arguments)
    }

    /// The keys a generated dispatch of `type` may run, nil when the type
    /// has none: those of exactly one of its distributed methods as the
    /// runtime lists them. The macro sees the type's body only; a method of
    /// an extension that shares a key with one in the body would otherwise
    /// run the body's. Read once per hosted type (it reads every distributed
    /// method of the process).
    static func keys<Act: DistributedActor>(of type: Act.Type) -> Set<String>? {
        guard type is any CortDispatching.Type else { return nil }
        var counts: [String: Int] = [:]
        for method in DistributedMethods.of(type) {
            counts[methodNameWithoutType(method.name), default: 0] += 1
        }
        return Set(counts.filter { $0.value == 1 }.keys)
    }

    /// The dispatch of `actor`, if its type has one (`keys`, from
    /// ``keys(of:)``) and it is local.
    static func of(_ actor: any DistributedActor, keys: Set<String>?) async -> ReplicaDispatch? {
        guard let keys, let dispatching = actor as? any CortDispatching else { return nil }
        return await make(dispatching, keys: keys)
    }

    private static func make<Act: CortDispatching>(_ actor: Act, keys: Set<String>) async -> ReplicaDispatch? {
        // Made inside `whenLocal`: only there is the actor known to be
        // local, which an isolated call on it needs; the closure, formed
        // there, is isolated to it.
        await actor.whenLocal { local in
            // As `DistributedActor.assumeIsolated` runs its closure: a
            // synchronous function isolated to an actor has the calling
            // convention of one that is not. `runSync` calls it only where
            // the caller is statically isolated to this very replica, so no
            // run-time check of the executor is needed.
            typealias Isolated = @Sendable (isolated Act, String, inout CortInvocationDecoder) throws -> CortDispatchResult
            typealias Unisolated = @Sendable (Act, String, inout CortInvocationDecoder) throws -> CortDispatchResult
            let isolated: Isolated = { actor, method, arguments in
                try Act._cortDispatchSync(actor, method: method, arguments: &arguments)
            }
            let unisolated = unsafeBitCast(isolated, to: Unisolated.self)
            return ReplicaDispatch(isolation: local.asLocalActor, keys: keys,
                                   sync: { method, arguments in try unisolated(local, method, &arguments) }) {
                method, arguments in
                try await Act._cortDispatch(local, method: method, arguments: &arguments)
            }
        }
    }
}
