// swift-tools-version: 6.1
import CompilerPluginSupport
import PackageDescription

// Debian's libzmq.pc pulls in krb5-gssapi's `-isystem /usr/include/mit-krb5`
// through Requires.private, a flag SwiftPM refuses with a warning on every
// build. On Linux zmq.h and libzmq are on the default paths (the module map
// links `zmq`), so pkg-config is only asked elsewhere (Homebrew).
#if os(Linux)
let zeroMQPkgConfig: String? = nil
#else
let zeroMQPkgConfig: String? = "libzmq"
#endif

let package = Package(
    name: "cort",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CortMessagePack", targets: ["CortMessagePack"]),
        .library(name: "CortZeroMQ", targets: ["CortZeroMQ"]),
        .library(name: "Cort", targets: ["Cort"]),
        .library(name: "CortConsul", targets: ["CortConsul"]),
        .library(name: "CortTesting", targets: ["CortTesting"]),
        .executable(name: "cort", targets: ["cort"]),
    ],
    // FlyingFox is resolved only for the Consul agent double: a package that
    // depends on cort with `traits: []` does not fetch it (CortTesting then
    // has TestClock only). On by default, so this package's own tests and
    // examples, and a plain `.package(url:from:)`, have the double.
    traits: [
        .trait(
            name: "ConsulAgentDouble",
            description: "CortTesting's ConsulAgentDouble, an HTTP double of the Consul agent, on FlyingFox."
        ),
        .default(enabledTraits: ["ConsulAgentDouble"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.2.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-service-context", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        // Only the examples link it (cort-metrics-node, cort-demo): cort itself
        // records through swift-metrics and never picks a backend.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        // `swift package generate-documentation --target Cort` (DocC); a plugin, nothing is linked.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
        // The `@CortService` macro (CortMacros), which writes a hosted type's dispatch.
        .package(url: "https://github.com/swiftlang/swift-syntax", "600.0.0"..<"604.0.0"),
    ],
    targets: [
        // C libraries, found through pkg-config. Debian's libmsgpack-dev ships
        // `msgpack.pc` (library `msgpackc`); Homebrew's msgpack 6 names it `msgpack-c`.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: zeroMQPkgConfig,
            providers: [.apt(["libzmq3-dev"]), .brew(["zeromq"])]
        ),
        .systemLibrary(
            name: "CMessagePack",
            pkgConfig: "msgpack",
            providers: [.apt(["libmsgpack-dev"]), .brew(["msgpack"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"]), .brew(["curl"])]
        ),

        // Jobs of Swift's global executor taken by the thread that enqueues
        // them (a reactor resuming the callers whose answers it read).
        .target(name: "CCortRuntime"),

        .target(
            name: "CortMessagePack",
            dependencies: ["CMessagePack"]
        ),
        .target(
            name: "CortZeroMQ",
            dependencies: [
                "CZeroMQ",
                "CCortRuntime",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),

        // `@CortService`: generates a hosted type's dispatch (see CortDispatching).
        .macro(
            name: "CortMacros",
            dependencies: [
                .product(name: "SwiftCompilerPlugin", package: "swift-syntax"),
                .product(name: "SwiftDiagnostics", package: "swift-syntax"),
                .product(name: "SwiftSyntax", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacros", package: "swift-syntax"),
            ]
        ),

        .target(
            name: "Cort",
            dependencies: [
                "CortMacros",
                "CortMessagePack",
                "CortZeroMQ",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceContextModule", package: "swift-service-context"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        // The command-line tool: `cort keygen`, …
        .executableTarget(
            name: "cort",
            dependencies: [
                "Cort",
                "CortConsul",
                "CortMessagePack",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Consul for cort: the HTTP client on libcurl and ConsulDiscovery. Only
        // programs that use Consul link libcurl.
        .target(
            name: "CortConsul",
            dependencies: [
                "Cort",
                "CCurl",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        .target(
            name: "CortTesting",
            dependencies: [
                .product(name: "FlyingFox", package: "FlyingFox", condition: .when(traits: ["ConsulAgentDouble"])),
                .product(name: "FlyingSocks", package: "FlyingFox", condition: .when(traits: ["ConsulAgentDouble"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The examples: `swift run cort-demo` (and the others by their target
        // names) from a clone. Executable targets of the root package run
        // without being products, so a package that depends on cort gets none
        // of them.
        .target(
            name: "ExampleServices",
            dependencies: ["Cort"],
            path: "Examples/ExampleServices"
        ),
        .executableTarget(
            name: "cort-demo",
            dependencies: [
                "Cort", "ExampleServices",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Examples/CortDemo"
        ),
        .executableTarget(
            name: "cort-greeter-node",
            dependencies: [
                "Cort", "CortConsul", "ExampleServices",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Examples/GreeterNode"
        ),
        // A greeter node that bootstraps swift-prometheus and serves its
        // metrics on HTTP (`GET /metrics`), for Prometheus to scrape.
        .executableTarget(
            name: "cort-metrics-node",
            dependencies: [
                "Cort", "CortConsul", "ExampleServices",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Examples/MetricsNode"
        ),
        .executableTarget(
            name: "cort-greeter-caller",
            dependencies: ["Cort", "CortConsul", "ExampleServices", .product(name: "Logging", package: "swift-log")],
            path: "Examples/GreeterCaller"
        ),
        .executableTarget(
            name: "cort-consul-double",
            dependencies: ["CortTesting"],
            path: "Examples/ConsulDouble"
        ),
        .executableTarget(
            name: "cort-msgpack-over-zeromq",
            dependencies: ["CortMessagePack", "CortZeroMQ"],
            path: "Examples/MessagePackOverZeroMQ"
        ),

        .testTarget(
            name: "CortMessagePackTests",
            dependencies: ["CortMessagePack"],
            resources: [.copy("Golden")]
        ),
        .testTarget(
            name: "CortZeroMQTests",
            dependencies: ["CortZeroMQ"]
        ),
        // The Swift snippets of README.md and docs/, compiled (DocSnippetTests
        // checks each against its Markdown block and runs README's).
        .target(
            name: "DocSnippets",
            dependencies: [
                .product(name: "Configuration", package: "swift-configuration"),
                "Cort", "CortConsul", "CortTesting", "CortZeroMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/DocSnippets"
        ),
        .testTarget(
            name: "CortTests",
            dependencies: [
                "Cort", "CortMessagePack", "CortZeroMQ", "CortTesting", "DocSnippets",
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceContextModule", package: "swift-service-context"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Real-process reliability tests: CortProcessTests starts CortTestNode
        // processes (built beside the test bundle) hosting the Ledger service.
        .target(
            name: "ReliabilityServices",
            dependencies: ["Cort"],
            path: "Tests/ReliabilityServices"
        ),
        .executableTarget(
            name: "CortTestNode",
            dependencies: [
                "Cort",
                "CortConsul",
                "ReliabilityServices",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/CortTestNode"
        ),
        .executableTarget(
            name: "CortTestCaller",
            dependencies: [
                "Cort",
                "ReliabilityServices",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/CortTestCaller"
        ),
        .testTarget(
            name: "CortProcessTests",
            dependencies: [
                "Cort", "CortConsul", "CortTesting", "ExampleServices", "ReliabilityServices",
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        .testTarget(
            name: "CortMacrosTests",
            dependencies: [
                "CortMacros",
                .product(name: "SwiftSyntaxMacrosGenericTestSupport", package: "swift-syntax"),
                .product(name: "SwiftSyntaxMacroExpansion", package: "swift-syntax"),
            ]
        ),
        .testTarget(
            name: "CortTestingTests",
            dependencies: ["CortTesting"]
        ),
        .testTarget(
            name: "CortConsulTests",
            dependencies: [
                "Cort",
                "CortConsul",
                "CortTesting",
                .product(name: "FlyingFox", package: "FlyingFox"),
                .product(name: "FlyingSocks", package: "FlyingFox"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
