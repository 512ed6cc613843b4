// A node hosting the benchmark `Echo` service in a process of its own:
//
//   cort-bench-node [ENDPOINT] [REPLICAS] [EXECUTOR] [SECURITY]
//
// (default tcp://127.0.0.1:0, 4, `reactor` and `plaintext`: `reactor` is
// what `host(_:replicas:)` does by default; EXECUTOR `globalPool` runs the
// replicas on the global pool, the option.) SECURITY
// `curve` serves with CURVE: the node's secret key (40 characters of Z85) in
// CORT_CURVE_SECRET_KEY and its allow-list file (one caller public key a
// line) in CORT_CURVE_ALLOWED_CALLERS_FILE, the variables cort's own
// configuration reader uses.
//
// The environment chooses its instrumentation (see BenchInstrumentation):
// CORT_BENCH_INSTRUMENTED=false starts its system with `instrumented: false`
// (cort's tracing and metrics interceptors off; on by default);
// CORT_BENCH_METRICS=prometheus bootstraps swift-prometheus's factory before
// the system starts, and CORT_BENCH_METRICS_DUMP=FILE writes its registry's
// text to FILE as the node stops.
//
// It prints "ready <endpoint>" once it serves (with CURVE
// "ready <endpoint>|<node public key>", an entry for StaticDiscovery), and
// stops on SIGINT, SIGTERM or end-of-file on its standard input (so that it
// never outlives the benchmark that started it).
import BenchmarkSupport
import Cort
import Foundation
import Logging

let arguments = CommandLine.arguments
let requested = arguments.count > 1 ? arguments[1] : "tcp://127.0.0.1:0"
let executorName = arguments.count > 3 ? arguments[3] : "reactor"
let securityName = arguments.count > 4 ? arguments[4] : "plaintext"
guard let replicas = arguments.count > 2 ? Int(arguments[2]) : 4, replicas > 0,
      ["reactor", "globalPool"].contains(executorName), ["plaintext", "curve"].contains(securityName) else {
    FileHandle.standardError.write(Data(
        "usage: cort-bench-node [ENDPOINT] [REPLICAS] [reactor|globalPool] [plaintext|curve]\n".utf8))
    exit(2)
}
let executor: ReplicaExecutor = executorName == "reactor" ? .reactor : .globalPool

func curveSecurity() throws -> Security {
    let environment = ProcessInfo.processInfo.environment
    guard let secret = environment[CurveKeys.secretKeyVariable],
          let allowedFile = environment[CurveKeys.allowedCallersFileVariable] else {
        throw BenchmarkFailure("curve needs \(CurveKeys.secretKeyVariable) and \(CurveKeys.allowedCallersFileVariable)")
    }
    let keys = try CurveKeyPair(secretKey: CurveKey(z85: secret))
    return .curve(keyPair: keys, allowedCallers: try CallerAllowList(contentsOfFile: allowedFile))
}
let security = securityName == "curve" ? try curveSecurity() : .plaintext
let environment = ProcessInfo.processInfo.environment
let instrumented = BenchInstrumentation.instrumented(in: environment)
switch environment[BenchInstrumentation.metricsVariable] {
case nil, "", "none":
    break
case "prometheus":
    BenchInstrumentation.bootstrapPrometheus()
case let other?:
    FileHandle.standardError.write(Data("\(BenchInstrumentation.metricsVariable)=\(other): only prometheus is known\n".utf8))
    exit(2)
}

// Warnings only: the benchmark's output is parsed, and the node's info lines would land in it.
var logger = Logger(label: "cort-bench-node")
logger.logLevel = .warning
var configuration = try CortSystem.Configuration(name: "bench-node", discovery: StaticDiscovery([:]), endpoint: requested,
                                             logger: logger, security: security, instrumented: instrumented)
// CORT_BENCH_IO_SCHEDULING (batchWhenServing, batch or inherited) replaces the default, as for cort-probe.
if let text = environment["CORT_BENCH_IO_SCHEDULING"] {
    guard let scheduling = CortSystem.IOThreadScheduling(rawValue: text) else {
        FileHandle.standardError.write(Data("CORT_BENCH_IO_SCHEDULING is '\(text)', not batchWhenServing, batch or inherited\n".utf8))
        exit(2)
    }
    configuration.ioThreadScheduling = scheduling
}
let node = try CortSystem.start(configuration)
// The replicas run on the node's reactor by default, so a call costs no
// thread switch on the node (see ReplicaExecutor).
try await node.host(Echo.serviceName, replicas: replicas, executor: executor) { Echo(actorSystem: $0) }
// Unbuffered, so the reader gets it now.
let keySuffix = security.publicKey.map { "|\($0.z85)" } ?? ""
FileHandle.standardOutput.write(Data("ready \(node.endpoint ?? requested)\(keySuffix)\n".utf8))

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
if let dump = environment[BenchInstrumentation.metricsDumpVariable], let registry = BenchInstrumentation.prometheusRegistry {
    try? Data(registry.emitToBuffer()).write(to: URL(fileURLWithPath: dump))
}
exit(0)
