// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so that cort itself never depends on
// the benchmark harness. cort is a path dependency; its products are named
// without the package identity because that identity is the checkout's
// folder name, which differs between machines.
let package = Package(
    name: "cort-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The C baseline: a DEALER -> ROUTER echo on the same libzmq.
        .target(
            name: "CEchoBaseline",
            linkerSettings: [.linkedLibrary("zmq")]
        ),
        .target(
            name: "BenchmarkSupport",
            dependencies: ["CortMessagePack", "CortZeroMQ", "CEchoBaseline"]
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
        // A plain executable that runs one workload N times, for the counts
        // noise does not move: `perf stat -e context-switches` and
        // `valgrind --tool=callgrind`.
        .executableTarget(
            name: "cort-probe",
            dependencies: ["BenchmarkSupport"],
            path: "Sources/CortProbe"
        ),
    ],
    swiftLanguageModes: [.v6]
)
