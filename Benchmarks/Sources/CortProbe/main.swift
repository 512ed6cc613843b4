import BenchmarkSupport
import Cort
import Foundation

// Runs one workload a given number of times and prints the time per call, so
// that the counts noise does not move can be taken per call:
//
//   perf stat -e context-switches .build/release/cort-probe reactor 100000
//   valgrind --tool=callgrind .build/release/cort-probe codec 20000
//
// Take two counts (N and 2N) and divide their difference by N: that leaves
// out the set-up that every run pays once.
//
// The call workloads (`calls`, `calls-window` with 64 calls in flight,
// `calls-window-256` (and `calls-window-N`, N in flight), and their C baselines `cecho-remote`,
// `cecho-remote-window`, `cecho-remote-window-256`; `calls-latency` and
// `cecho-remote-latency` time each call and print p50 and p99) talk to a server in
// another process:
// the endpoint in CORT_BENCH_NODE (a `cort-bench-node`) or CORT_BENCH_ECHO (a
// `cort-echo-server`), else a server this probe starts itself. perf stat
// counts a probe's child processes too, so give it the endpoint of a server
// started apart when counting.
//
// `cnode`, `cnode-latency`, `cnode-window` and `cnode-window-256` are the
// same calls made by a plain C DEALER to a cort node (CORT_BENCH_NODE), so a
// node is measured without cort's caller; and `calls*` pointed at
// `cort-echo-server ENDPOINT cort` (a C server that answers as a node
// hosting Echo) measure cort's caller without cort's node.
//
// `failover` is not a count: it kills (then freezes) one of 3 nodes under
// load and prints how long its calls took to move (see FailoverProbe).
// `curve` compares typed calls with CURVE and in plaintext (see CurveProbe).
// `instrumented` compares typed calls with cort's tracing and metrics
// interceptors (the default) and with `instrumented: false` (see
// InstrumentedProbe).
// Against a CURVE node (CORT_BENCH_NODE=tcp://…|<node public key>), the call
// workloads take the caller's secret key from CORT_BENCH_CALLER_SECRET_KEY
// (`cort-probe curve-keys` makes a set). The call workloads read
// CORT_BENCH_INSTRUMENTED and CORT_BENCH_METRICS as cort-bench-node does
// (see BenchInstrumentation).

let usage = """
    usage: cort-probe WORKLOAD ITERATIONS
      WORKLOAD: codec | json | reactor | cecho | reactor-window | cecho-window
                | reactor-task | reactor-task-window
                | calls | calls-window | cecho-remote | cecho-remote-window
                | calls-window-256 | cecho-remote-window-256 | calls-window-N (N in flight)
                | calls-latency | cecho-remote-latency (one in flight, p50 and p99)
                | cnode | cnode-window | cnode-window-256 | cnode-latency (a C caller of a cort node)
                | chains-client | chains-server | chains-client-empty | chains-server-empty
    """ + "\n" + FailoverProbe.usage + "\n" + FloodProbe.usage + "\n" + CurveProbe.usage + "\n" + InstrumentedProbe.usage
let arguments = CommandLine.arguments
if arguments.count > 1, arguments[1] == "instrumented" {
    guard let probe = InstrumentedProbe(arguments: arguments.dropFirst(2)) else {
        FileHandle.standardError.write(Data((usage + "\n").utf8))
        exit(2)
    }
    try await probe.run()
    exit(0)
}
if arguments.count > 1, arguments[1] == "curve" {
    guard let probe = CurveProbe(arguments: arguments.dropFirst(2)) else {
        FileHandle.standardError.write(Data((usage + "\n").utf8))
        exit(2)
    }
    try await probe.run()
    exit(0)
}
if arguments.count == 3, arguments[1] == "curve-keys" {
    try CurveProbe.printKeys(allowListPath: arguments[2])
    exit(0)
}
if arguments.count > 1, arguments[1] == "flood" {
    guard let probe = FloodProbe(arguments: arguments.dropFirst(2)) else {
        FileHandle.standardError.write(Data((usage + "\n").utf8))
        exit(2)
    }
    try await probe.run()
    exit(0)
}
if (4...5).contains(arguments.count), arguments[1] == "flood-sender" {
    try FloodProbe.flood(endpoint: arguments[2], hexFrame: arguments[3], reading: arguments.count == 5)
}
if arguments.count > 1, arguments[1] == "failover" {
    guard let probe = FailoverProbe(arguments: arguments.dropFirst(2)) else {
        FileHandle.standardError.write(Data((usage + "\n").utf8))
        exit(2)
    }
    try await probe.run()
    exit(0)
}
guard arguments.count == 3, let iterations = Int(arguments[2]), iterations >= 0 else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}

/// The endpoint in `variable`, else one of a server started here (kept
/// running until the probe exits).
func serverEndpoint(_ variable: String, executable: String) throws -> (String, ServerProcess?) {
    if let endpoint = ProcessInfo.processInfo.environment[variable] { return (endpoint, nil) }
    let server = try ServerProcess(executable: ServerProcess.executable(named: executable))
    return (server.endpoint, server)
}

/// Connects a typed caller and warms it up, outside the timed part.
func typedCalls() async throws -> (TypedCalls, ServerProcess?) {
    let (endpoint, server) = try serverEndpoint("CORT_BENCH_NODE", executable: "cort-bench-node")
    var security = Security.plaintext
    if let secret = ProcessInfo.processInfo.environment[CurveProbe.callerSecretKeyVariable] {
        security = .curve(keyPair: try CurveKeyPair(secretKey: CurveKey(z85: secret)))
    }
    // As cort-bench-node does: CORT_BENCH_INSTRUMENTED=false turns cort's interceptors
    // off, CORT_BENCH_METRICS=prometheus bootstraps a backend first.
    let environment = ProcessInfo.processInfo.environment
    if environment[BenchInstrumentation.metricsVariable] == "prometheus" { BenchInstrumentation.bootstrapPrometheus() }
    // CORT_BENCH_ANSWER_POLLING (microseconds; 0 turns it off) replaces the default's answer polling.
    var polling: Duration?
    if let text = environment["CORT_BENCH_ANSWER_POLLING"] {
        guard let microseconds = Int64(text), microseconds >= 0 else {
            throw BenchmarkFailure("CORT_BENCH_ANSWER_POLLING is '\(text)', not a number of microseconds")
        }
        polling = .microseconds(microseconds)
    }
    // CORT_BENCH_IO_SCHEDULING (batchWhenServing, batch or inherited) replaces the default.
    var scheduling: CortSystem.IOThreadScheduling?
    if let text = environment["CORT_BENCH_IO_SCHEDULING"] {
        guard let value = CortSystem.IOThreadScheduling(rawValue: text) else {
            throw BenchmarkFailure("CORT_BENCH_IO_SCHEDULING is '\(text)', not batchWhenServing, batch or inherited")
        }
        scheduling = value
    }
    let calls = try await TypedCalls.connect(to: endpoint, payloadSize: PingPongDefaults.payloadSize, security: security,
                                             instrumented: BenchInstrumentation.instrumented(in: environment),
                                             answerPolling: polling, ioThreadScheduling: scheduling)
    try await calls.roundTrips(100)
    return (calls, server)
}

/// Connects a C client and warms it up, outside the timed part.
func remoteCEcho() throws -> (CEcho, ServerProcess?) {
    let (endpoint, server) = try serverEndpoint("CORT_BENCH_ECHO", executable: "cort-echo-server")
    let echo = try CEcho(connectingTo: endpoint, payloadSize: PingPongDefaults.payloadSize)
    try echo.roundTrips(100)
    return (echo, server)
}

/// A plain C caller of a cort node (CORT_BENCH_NODE, else one started
/// here) with `window` requests to keep in flight, warmed up.
func cCallerOfNode(window: Int) async throws -> (CEcho, CallFrames, ServerProcess?) {
    let (endpoint, server) = try serverEndpoint("CORT_BENCH_NODE", executable: "cort-bench-node")
    let request = try await RawRequestFrame.captureEcho(payloadSize: PingPongDefaults.payloadSize)
    let (caller, frames) = try CEcho.callerOfNode(at: endpoint, request: request, window: window)
    return (caller, frames, server)
}

/// The prototype caller of a cort node (CORT_BENCH_NODE, else one started
/// here), warmed up.
func leanCaller() async throws -> (LeanCaller, ServerProcess?) {
    let (endpoint, server) = try serverEndpoint("CORT_BENCH_NODE", executable: "cort-bench-node")
    let request = try await RawRequestFrame.captureEcho(payloadSize: PingPongDefaults.payloadSize)
    let caller = try LeanCaller(connectingTo: endpoint, request: request)
    for _ in 0..<100 { _ = try await caller.call() }
    return (caller, server)
}

/// Prints the median and the 99th percentile of `latencies`, in µs.
func printPercentiles(_ latencies: [Duration]) {
    guard !latencies.isEmpty else { return }
    let sorted = latencies.sorted()
    func microseconds(_ fraction: Double) -> Double {
        let value = sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
        return Double(value.components.seconds) * 1e6 + Double(value.components.attoseconds) / 1e12
    }
    print("latency: p50 \(microseconds(0.5)) µs, p99 \(microseconds(0.99)) µs")
}

let clock = ContinuousClock()
var started = clock.now
/// Set by the workloads whose stop is not part of what they time.
var finished: ContinuousClock.Instant?
switch arguments[1] {
case "codec":
    let codecs = CodecPair()
    var buffer: [UInt8] = []
    buffer.reserveCapacity(512)
    for _ in 0..<iterations {
        _ = try codecs.messagePackRoundTrip(.sample, buffer: &buffer)
    }
case "json":
    let codecs = CodecPair()
    for _ in 0..<iterations {
        _ = try codecs.jsonRoundTrip(.sample)
    }
case "reactor":
    let pingPong = try await ReactorPingPong.start(payloadSize: PingPongDefaults.payloadSize)
    try await pingPong.roundTrips(iterations)
    await pingPong.stop()
case "reactor-window":
    let pingPong = try await ReactorPingPong.start(payloadSize: PingPongDefaults.payloadSize)
    try await pingPong.windowed(iterations, window: PingPongDefaults.window)
    await pingPong.stop()
case "reactor-task", "reactor-task-window":
    // The echo side runs each message in a task of its own that awaits a
    // default actor (see ReactorPingPong.start(payloadSize:perMessageTask:)).
    let pingPong = try await ReactorPingPong.start(payloadSize: PingPongDefaults.payloadSize, perMessageTask: true)
    if arguments[1].hasSuffix("-window") {
        try await pingPong.windowed(iterations, window: PingPongDefaults.window)
    } else {
        try await pingPong.roundTrips(iterations)
    }
    await pingPong.stop()
case "cecho":
    try CEcho(payloadSize: PingPongDefaults.payloadSize).roundTrips(iterations)
case "cecho-window":
    try CEcho(payloadSize: PingPongDefaults.payloadSize).windowed(iterations, window: PingPongDefaults.window)
case "calls":
    let (calls, server) = try await typedCalls()
    started = clock.now
    try await calls.roundTrips(iterations)
    finished = clock.now
    await calls.stop()
    server?.stop()
case "calls-window-on-reactor":
    let (calls, server) = try await typedCalls()
    started = clock.now
    try await calls.windowedOnReactor(iterations, window: PingPongDefaults.window)
    finished = clock.now
    await calls.stop()
    server?.stop()
case "calls-on-reactor":
    let (calls, server) = try await typedCalls()
    started = clock.now
    try await calls.roundTripsOnReactor(iterations)
    finished = clock.now
    await calls.stop()
    server?.stop()
case let name where name == "calls-window" || Int(name.dropFirst("calls-window-".count)).map { name.hasPrefix("calls-window-") && $0 > 0 } == true:
    // calls-window-N: N calls in flight (64 by default).
    let (calls, server) = try await typedCalls()
    started = clock.now
    try await calls.windowed(iterations, window: Int(name.dropFirst("calls-window-".count)) ?? PingPongDefaults.window)
    finished = clock.now
    await calls.stop()
    server?.stop()
case "chains-client", "chains-server", "chains-client-empty", "chains-server-empty":
    // cort's default interceptor chain (or the empty one) on a captured call
    // (see InterceptorChains), in this process: CORT_BENCH_METRICS=prometheus
    // bootstraps a backend first.
    if ProcessInfo.processInfo.environment[BenchInstrumentation.metricsVariable] == "prometheus" {
        BenchInstrumentation.bootstrapPrometheus()
    }
    let chains = try await InterceptorChains.capture()
    let empty = arguments[1].hasSuffix("-empty")
    started = clock.now
    if arguments[1].hasPrefix("chains-client") {
        let chain = empty ? [] : chains.defaultClient
        try await chains.runClient(chain, count: iterations)
    } else {
        let chain = empty ? [] : chains.defaultServer
        try await chains.runServer(chain, count: iterations)
    }
case "calls-latency":
    // One in flight, each call timed: p50 and p99 (beside cecho-remote-latency).
    let (calls, server) = try await typedCalls()
    started = clock.now
    let latencies = try await calls.latencies(iterations)
    finished = clock.now
    printPercentiles(latencies)
    await calls.stop()
    server?.stop()
case "cecho-remote-latency":
    let (echo, server) = try remoteCEcho()
    started = clock.now
    let latencies = try echo.latencies(iterations)
    finished = clock.now
    printPercentiles(latencies)
    server?.stop()
case "cecho-remote":
    let (echo, server) = try remoteCEcho()
    started = clock.now
    try echo.roundTrips(iterations)
    finished = clock.now
    server?.stop()
case "cecho-remote-window", "cecho-remote-window-256":
    let (echo, server) = try remoteCEcho()
    started = clock.now
    try echo.windowed(iterations, window: arguments[1].hasSuffix("-256") ? 256 : PingPongDefaults.window)
    finished = clock.now
    server?.stop()
case "cnode", "cnode-window", "cnode-window-256":
    let window = arguments[1] == "cnode" ? 1 : arguments[1].hasSuffix("-256") ? 256 : PingPongDefaults.window
    let (caller, frames, server) = try await cCallerOfNode(window: window)
    started = clock.now
    try caller.calls(frames, count: iterations)
    finished = clock.now
    server?.stop()
case "lean-window", "lean-window-256":
    // The caller the closing notes of issue 11 propose (one lock, one
    // continuation; see LeanCaller), against a cort node: a prototype's cost.
    let (caller, server) = try await leanCaller()
    started = clock.now
    try await caller.windowed(iterations, window: arguments[1].hasSuffix("-256") ? 256 : PingPongDefaults.window)
    finished = clock.now
    await caller.stop()
    server?.stop()
case "lean-latency":
    let (caller, server) = try await leanCaller()
    started = clock.now
    let latencies = try await caller.latencies(iterations)
    finished = clock.now
    printPercentiles(latencies)
    await caller.stop()
    server?.stop()
case "cnode-latency":
    let (caller, frames, server) = try await cCallerOfNode(window: 1)
    started = clock.now
    let latencies = try caller.callLatencies(frames, count: iterations)
    finished = clock.now
    printPercentiles(latencies)
    server?.stop()
default:
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}
let elapsed = (finished ?? clock.now) - started
let perCall = iterations > 0 ? elapsed / iterations : .zero
print("\(arguments[1]): \(iterations) calls in \(elapsed), \(perCall) per call")
