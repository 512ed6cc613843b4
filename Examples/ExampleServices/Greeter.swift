import Cort
import Distributed

/// What a greeter answers: the greeting and which node made it.
public struct Greeting: Codable, Sendable {
    public var text: String
    public var servedBy: String
}

/// The example service: a distributed actor whose methods are typed remote
/// calls, hosted and found as "greeter" (the name other processes and
/// `CORT_STATIC_SERVICES` use).
@CortService
public distributed actor Greeter: CortService {
    public typealias ActorSystem = CortSystem
    public static let serviceName = "greeter"

    public init(actorSystem: CortSystem) {
        self.actorSystem = actorSystem
    }

    public distributed func hello(name: String) -> Greeting {
        Greeting(text: "Hello, \(name)!", servedBy: id.endpoint ?? "this process")
    }
}
