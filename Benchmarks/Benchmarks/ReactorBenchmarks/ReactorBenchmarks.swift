import Benchmark
import BenchmarkSupport

// A ping-pong through two sockets on the reactor against the plain C
// DEALER -> ROUTER echo on the same libzmq. Each measured iteration is one
// round trip; the closure runs them in batches of 1,000 (scaling factor kilo)
// so that the hop from the benchmark's task onto the reactor is paid once per
// batch, the same for both. Run `scripts/ratios.py` for interleaved rounds.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(3)
    )

    Benchmark("reactor: ping-pong, one in flight") { benchmark in
        let pingPong = try await ReactorPingPong.start(payloadSize: PingPongDefaults.payloadSize)
        try await pingPong.roundTrips(100)  // connect and warm up
        benchmark.startMeasurement()
        try await pingPong.roundTrips(benchmark.scaledIterations.count)
        benchmark.stopMeasurement()
        await pingPong.stop()
    }

    Benchmark("reactor: C echo, one in flight (baseline)") { benchmark in
        let echo = try CEcho(payloadSize: PingPongDefaults.payloadSize)
        try echo.roundTrips(100)
        benchmark.startMeasurement()
        try echo.roundTrips(benchmark.scaledIterations.count)
        benchmark.stopMeasurement()
    }
}
