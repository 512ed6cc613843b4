// The Swift snippets of README.md, compiled. Each region between
// `// snippet: NAME` and `// end snippet` is, without its indentation, the
// block that README.md marks `<!-- snippet: NAME -->`; DocSnippetTests
// checks that they agree and runs the getting-started code.
// snippet: README-service
import Cort
import Distributed

@CortService
distributed actor Greeter {
    typealias ActorSystem = CortSystem
    distributed func hello(name: String) -> String { "Hello, \(name)!" }
}
// end snippet

/// README's getting-started code, run by the tests.
public func readmeGettingStarted() async throws {
    // snippet: README-calls
    let discovery = LocalDiscovery()

    // A node: serve on a free port, host the service with 4 replicas (actors
    // on this node that each run one call at a time).
    let node = try CortSystem.start(.init(name: "node-a", discovery: discovery, endpoint: "tcp://127.0.0.1:0"))
    try await node.host(replicas: 4) { Greeter(actorSystem: $0) }

    // A caller: find the service by its type and await typed calls.
    let caller = try CortSystem.start(.init(name: "caller", discovery: discovery))
    let greeter = try Greeter.service(in: caller)
    print(try await greeter.hello(name: "Ada"))   // Hello, Ada!

    // Every call has a deadline: the system's default (10 s), or per call.
    let quick = try await withCallOptions(timeout: .seconds(2)) {
        try await greeter.hello(name: "Grace")
    }
    print(quick)

    await caller.shutdown()
    await node.shutdown()
    // end snippet
}

// snippet: README-service-group
import Cort
import Logging            // swift-log
import ServiceLifecycle   // swift-service-lifecycle

func serveGreeters() async throws {
    let logger = Logger(label: "greeter-node")
    let node = try CortSystem.start(.init(name: "node-a", discovery: try DiscoveryEnvironment.discovery(),
                                          endpoint: "tcp://0.0.0.0:5555", logger: logger))
    try await node.host(replicas: 4) { Greeter(actorSystem: $0) }
    let group = ServiceGroup(services: [node], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    try await group.run()   // until SIGTERM or SIGINT, then drains
}
// end snippet
