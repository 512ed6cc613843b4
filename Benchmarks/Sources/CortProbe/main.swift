import BenchmarkSupport
import Foundation

// Runs one workload a given number of times and prints the time per call, so
// that the counts noise does not move can be taken per call:
//
//   perf stat -e context-switches .build/release/cort-probe reactor 100000
//   valgrind --tool=callgrind .build/release/cort-probe codec 20000
//
// Take two counts (N and 2N) and divide their difference by N: that leaves
// out the set-up that every run pays once.

let usage = "usage: cort-probe (codec | json | reactor | cecho | reactor-window | cecho-window) ITERATIONS"
let arguments = CommandLine.arguments
guard arguments.count == 3, let iterations = Int(arguments[2]), iterations >= 0 else {
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}

let clock = ContinuousClock()
let started = clock.now
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
case "cecho":
    try CEcho(payloadSize: PingPongDefaults.payloadSize).roundTrips(iterations)
case "cecho-window":
    try CEcho(payloadSize: PingPongDefaults.payloadSize).windowed(iterations, window: PingPongDefaults.window)
default:
    FileHandle.standardError.write(Data((usage + "\n").utf8))
    exit(2)
}
let elapsed = clock.now - started
let perCall = iterations > 0 ? elapsed / iterations : .zero
print("\(arguments[1]): \(iterations) calls in \(elapsed), \(perCall) per call")
