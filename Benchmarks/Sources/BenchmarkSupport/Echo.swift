import Cort
import Distributed
import Foundation

/// The service the call benchmarks call: it answers every payload with
/// itself, so that a typed call costs what cort adds to a plain echo.
///
/// `echo(_:)` is listed in ``IdempotentMethods``: running it twice is
/// harmless, so failover moves it to another node when its node dies.
/// `echoNamingNode(_:)` is not listed (a caller marks it per call with
/// `CallOptions(idempotent: true)`, or leaves it unmarked to see which calls
/// end as `outcomeUnknown`).
///
/// ```swift
/// let echo = try Echo.resolve(id: .service(Echo.serviceName), using: system)
/// let reply = try await echo.echo([1, 2, 3])   // [1, 2, 3]
/// ```
@CortService
public distributed actor Echo: IdempotentMethods {
    public typealias ActorSystem = CortSystem

    /// The name the benchmark node hosts it under.
    public static let serviceName = "echo"

    /// `echo(_:)`: failover may re-send it.
    public static let idempotentMethods: Set<String> = ["echo(_:)"]

    /// The process hosting this replica, which tells the failover probe which node answered.
    private let processIdentifier = ProcessInfo.processInfo.processIdentifier

    public init(actorSystem: CortSystem) {
        self.actorSystem = actorSystem
    }

    /// Returns `payload` unchanged.
    public distributed func echo(_ payload: [UInt8]) -> [UInt8] {
        payload
    }

    /// Returns `payload` with the process id of the node that answered.
    public distributed func echoNamingNode(_ payload: [UInt8]) -> EchoReply {
        EchoReply(node: processIdentifier, payload: payload)
    }
}
