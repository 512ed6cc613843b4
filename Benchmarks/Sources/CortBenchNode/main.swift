// A node hosting the benchmark `Echo` service in a process of its own:
//
//   cort-bench-node [ENDPOINT] [REPLICAS] [EXECUTOR]
//
// (default tcp://127.0.0.1:0, 4 and `reactor`; EXECUTOR `globalPool` runs
// the replicas as a service does by default.)
//
// It prints "ready <endpoint>" once it serves, and stops on SIGINT, SIGTERM
// or end-of-file on its standard input (so that it never outlives the
// benchmark that started it).
import BenchmarkSupport
import Cort
import Foundation
import Logging

let arguments = CommandLine.arguments
let requested = arguments.count > 1 ? arguments[1] : "tcp://127.0.0.1:0"
let executorName = arguments.count > 3 ? arguments[3] : "reactor"
guard let replicas = arguments.count > 2 ? Int(arguments[2]) : 4, replicas > 0,
      ["reactor", "globalPool"].contains(executorName) else {
    FileHandle.standardError.write(Data("usage: cort-bench-node [ENDPOINT] [REPLICAS] [reactor|globalPool]\n".utf8))
    exit(2)
}
let executor: ReplicaExecutor = executorName == "reactor" ? .reactor : .globalPool

// Warnings only: the benchmark's output is parsed, and the node's info lines would land in it.
var logger = Logger(label: "cort-bench-node")
logger.logLevel = .warning
let node = try CortSystem.start(.init(name: "bench-node", discovery: StaticDiscovery([:]), endpoint: requested,
                                      logger: logger))
// Echo suspends rather than computes: by default here its replicas run on the
// node's reactor, so a call costs no thread switch on the node (see ReplicaExecutor).
try await node.host(Echo.serviceName, replicas: replicas, executor: executor) { Echo(actorSystem: $0) }
// Unbuffered, so the reader gets it now.
FileHandle.standardOutput.write(Data("ready \(node.endpoint ?? requested)\n".utf8))

let (stops, stop) = AsyncStream<String>.makeStream()
var signalSources: [any DispatchSourceSignal] = []
for signalNumber in [SIGINT, SIGTERM] {
    signal(signalNumber, SIG_IGN)
    let source = DispatchSource.makeSignalSource(signal: signalNumber)
    source.setEventHandler { stop.yield("signal \(signalNumber)") }
    source.resume()
    signalSources.append(source)
}
Thread.detachNewThread {
    while !FileHandle.standardInput.availableData.isEmpty {}
    stop.yield("end of input")
}
for await _ in stops { break }
await node.shutdown()
exit(0)
