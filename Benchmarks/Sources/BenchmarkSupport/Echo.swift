import Cort
import Distributed

/// The service the call benchmarks call: it answers every payload with
/// itself, so that a typed call costs what cort adds to a plain echo.
public distributed actor Echo {
    public typealias ActorSystem = CortSystem

    /// The name the benchmark node hosts it under.
    public static let serviceName = "echo"

    public init(actorSystem: CortSystem) {
        self.actorSystem = actorSystem
    }

    /// Returns `payload` unchanged.
    public distributed func echo(_ payload: [UInt8]) -> [UInt8] {
        payload
    }
}
