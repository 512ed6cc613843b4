// swift-tools-version: 6.1
import Foundation
import PackageDescription

// Benchmarks live in their own package so that cort itself never depends on
// the benchmark harness. cort is a path dependency, and SwiftPM names a path
// dependency after its folder (the checkout's name, which differs between
// machines), so the identity is computed here.
let cort = URL(fileURLWithPath: Context.packageDirectory)
    .deletingLastPathComponent().lastPathComponent.lowercased()
let package = Package(
    name: "cort-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // A metrics backend for the instrumentation probe and benchmarks (cort itself never bootstraps one).
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The C baseline: a DEALER -> ROUTER echo on the same libzmq.
        .target(
            name: "CEchoBaseline",
            linkerSettings: [.linkedLibrary("zmq")]
        ),
        // The C echo server in a process of its own, for the calls baseline.
        .executableTarget(
            name: "cort-echo-server",
            path: "Sources/CEchoServer",
            linkerSettings: [.linkedLibrary("zmq")]
        ),
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                .product(name: "Cort", package: cort),
                .product(name: "CortMessagePack", package: cort),
                .product(name: "CortZeroMQ", package: cort),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                "CEchoBaseline",
            ]
        ),
        .executableTarget(
            name: "CodecBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/CodecBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ReactorBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ReactorBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "CallBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/CallBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Typed calls with CURVE against the same calls in plaintext.
        .executableTarget(
            name: "CurveBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Cort", package: cort),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/CurveBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Typed calls with cort's tracing and metrics interceptors (the
        // default) against the same calls with `instrumented: false`.
        .executableTarget(
            name: "InstrumentedBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Cort", package: cort),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/InstrumentedBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // Calls while a node dies in every batch, against the same calls with no failure.
        .executableTarget(
            name: "FailoverBenchmarks",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Cort", package: cort),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/FailoverBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // A node hosting the `Echo` service in a process of its own, for the
        // call benchmarks (which start it) and cort-probe.
        .executableTarget(
            name: "cort-bench-node",
            dependencies: ["BenchmarkSupport", .product(name: "Logging", package: "swift-log")],
            path: "Sources/CortBenchNode"
        ),
        // A plain executable that runs one workload N times, for the counts
        // noise does not move: `perf stat -e context-switches` and
        // `valgrind --tool=callgrind`.
        .executableTarget(
            name: "cort-probe",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "Cort", package: cort),
                .product(name: "CortZeroMQ", package: cort),
            ],
            path: "Sources/CortProbe"
        ),
        // The arithmetic of the failover figures, alone (no process, no timing).
        .testTarget(
            name: "BenchmarkSupportTests",
            dependencies: ["BenchmarkSupport", .product(name: "Cort", package: cort)]
        ),
    ],
    swiftLanguageModes: [.v6]
)
