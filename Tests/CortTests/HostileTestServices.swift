import Cort
import Distributed
import Foundation

/// Throws the RemoteCallError it is told to (as if a call it made had
/// failed), recording each run: for at-most-once across failover.
distributed actor Charger: IdempotentMethods {
    typealias ActorSystem = CortSystem
    static let idempotentMethods: Set<String> = ["refund(_:failingWith:)"]

    distributed func charge(_ key: String, failingWith code: UInt8) throws -> Int {
        Observations.shared.record(key, "charged@\(id.endpoint ?? "?")")
        throw RemoteCallError(RemoteCallError.Code(wireValue: code), "the payment service said so")
    }

    distributed func refund(_ key: String, failingWith code: UInt8) throws -> Int {
        Observations.shared.record(key, "refunded@\(id.endpoint ?? "?")")
        throw RemoteCallError(RemoteCallError.Code(wireValue: code), "the payment service said so")
    }
}

/// What a method saw of its call.
struct ContextReport: Codable, Sendable, Equatable {
    var callID: UInt64
    var service: String
    var method: String
    var metadata: [String: String]
    var caller: String
    var remainingMilliseconds: Double
    var idempotent: Bool
}

extension ContextReport {
    init?(_ context: CallContext?) {
        guard let context else { return nil }
        let remaining = context.timeRemaining.components
        self.init(callID: context.callID, service: context.service, method: context.method,
                  metadata: context.metadata, caller: context.caller.description,
                  remainingMilliseconds: Double(remaining.seconds) * 1000 + Double(remaining.attoseconds) / 1e15,
                  idempotent: context.isIdempotent)
    }
}

/// Reports its call context, and calls on (to `inner`, `worker`) from inside a call.
distributed actor Probe {
    typealias ActorSystem = CortSystem

    distributed func context() -> ContextReport? {
        ContextReport(CallContext.current)
    }

    /// Calls `inner`'s context() from inside this call, with `timeout` if given.
    distributed func relayContext(timeout: Double?, forwardMetadata: Bool) async throws -> ContextReport? {
        let inner = try Probe.resolve(id: .service("inner"), using: actorSystem)
        let options = CallOptions(timeout: timeout.map { .milliseconds(Int($0 * 1000)) },
                                  metadata: forwardMetadata ? CallContext.current?.metadata ?? [:] : [:])
        return try await CallOptions.$current.withValue(options) { try await inner.context() }
    }

    /// Calls `worker`'s wait(key, seconds: 30) from inside this call.
    distributed func relayWait(_ key: String) async throws -> String {
        let worker = try Worker.resolve(id: .service("worker"), using: actorSystem)
        return try await worker.wait(key, seconds: 30)
    }

    /// An answer of `count` bytes.
    distributed func filler(_ count: Int) -> Data {
        Data(count: count)
    }
}
