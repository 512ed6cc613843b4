// A node of the "greeter" service in a process of its own:
//   swift run cort-greeter-node tcp://127.0.0.1:5555
// It serves until it gets SIGINT or SIGTERM.
import Cort
import ExampleServices
import Foundation

let endpoint = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "tcp://127.0.0.1:5555"
// With StaticDiscovery the callers know the endpoint; nothing needs registering.
let node = try CortSystem.start(.init(name: "greeter-node", discovery: StaticDiscovery([:]), endpoint: endpoint))
try await node.host("greeter", replicas: 4) { Greeter(actorSystem: $0) }
print("greeter node serving at \(node.endpoint ?? endpoint); stop it with Ctrl-C")

let (signals, signalled) = AsyncStream<Int32>.makeStream()
var signalSources: [any DispatchSourceSignal] = []
for signalNumber in [SIGINT, SIGTERM] {
    signal(signalNumber, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: signalNumber)
    source.setEventHandler { signalled.yield(signalNumber) }
    source.resume()
    signalSources.append(source)
}
for await signalNumber in signals {
    print("signal \(signalNumber): draining and stopping")
    break
}
await node.shutdown()
