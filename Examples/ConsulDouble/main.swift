// The Consul agent double of CortTesting as a program, to try cort's Consul
// discovery where no Consul agent is installed:
//   swift run cort-consul-double 8500
// It speaks the subset of Consul's HTTP API that cort uses (docs in
// CortTesting), on 127.0.0.1, until SIGINT or SIGTERM.
import CortTesting
import Foundation

#if ConsulAgentDouble

guard let port = CommandLine.arguments.count > 1 ? UInt16(CommandLine.arguments[1]) : 8500 else {
    FileHandle.standardError.write(Data("usage: cort-consul-double [PORT]   (default 8500)\n".utf8))
    exit(2)
}
var configuration = ConsulAgentDouble.Configuration()
configuration.port = port
let agent: ConsulAgentDouble
do {
    agent = try await ConsulAgentDouble.start(configuration: configuration)
} catch {
    FileHandle.standardError.write(Data("cort-consul-double: cannot listen on 127.0.0.1:\(port): \(error)\n".utf8))
    exit(1)
}
print("Consul agent double at \(agent.address); stop it with Ctrl-C")
print("  export CONSUL_HTTP_ADDR=\(agent.address)")

let (signals, signalled) = AsyncStream<Int32>.makeStream()
var sources: [any DispatchSourceSignal] = []
for number in [SIGINT, SIGTERM] {
    signal(number, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: number)
    source.setEventHandler { signalled.yield(number) }
    source.resume()
    sources.append(source)
}
for await _ in signals { break }
let listed = agent.services.map { "\($0.name) \($0.id) \($0.address):\($0.port)" }
print("stopping; registered at the end: \(listed.isEmpty ? "none" : listed.joined(separator: ", "))")
await agent.stop()
#else
FileHandle.standardError.write(Data("cort-consul-double: built without the ConsulAgentDouble trait (on by default)\n".utf8))
exit(2)
#endif
