// Calls the greeter service running in another process, found through
// StaticDiscovery:
//   CORT_STATIC_SERVICES=greeter=tcp://127.0.0.1:5555 swift run cort-greeter-caller Ada
// or through Consul:
//   CONSUL_HTTP_ADDR=127.0.0.1:8500 swift run cort-greeter-caller Ada
// With CORT_CURVE_SECRET_KEY_FILE set it calls with CURVE security (see
// docs/SECURITY.md); the node's key then comes with its endpoint
// (greeter=tcp://127.0.0.1:5555|<key>) or from Consul.
import Cort
import CortConsul
import ExampleServices
import Foundation
import Logging

let names = CommandLine.arguments.dropFirst().isEmpty ? ["Ada", "Grace", "Lin"] : Array(CommandLine.arguments.dropFirst())
let discovery: any Discovery
let security: Security
do {
    security = try .fromEnvironment()
    discovery = try DiscoveryEnvironment.discovery(backends: [.consul])
    if discovery is LocalDiscovery {
        throw DiscoveryError(.malformedConfiguration,
                             "set CORT_STATIC_SERVICES (greeter=tcp://host:port) or CONSUL_HTTP_ADDR to find the greeter")
    }
} catch {
    FileHandle.standardError.write(Data("cort-greeter-caller: \(error)\n".utf8))
    exit(2)
}
// cort logs nothing unless given a logger: this one shows its warnings
// (a node that stops answering, discovery that fails).
var logger = Logger(label: "cort-greeter-caller")
logger.logLevel = .warning
let caller = try CortSystem.start(.init(name: "greeter-caller", discovery: discovery, defaultTimeout: .seconds(5),
                                        logger: logger, security: security))
let greeter = try Greeter.service(in: caller)
var failed = false
for name in names {
    do {
        let greeting = try await greeter.hello(name: name)
        print("\(greeting.text)  (served by \(greeting.servedBy))")
    } catch {
        print("greeter.hello(name: \"\(name)\") failed: \(error)")
        failed = true
    }
}
await caller.shutdown()
exit(failed ? 1 : 0)
