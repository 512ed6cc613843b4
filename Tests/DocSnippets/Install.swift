// README.md's Install block is a piece of a package manifest, which no target
// can compile (PackageDescription is the manifest's own module), so its region
// is a comment here. InstallSectionTests checks it against Package.swift: the
// products it names are cort's library products.
/*
// snippet: README-install
dependencies: [
    .package(url: "https://github.com/<owner>/cort", from: "0.1.0"),
],
targets: [
    .executableTarget(name: "MyNode", dependencies: [
        .product(name: "Cort", package: "cort"),
        .product(name: "CortConsul", package: "cort"),    // only if it uses Consul
    ]),
    .testTarget(name: "MyNodeTests", dependencies: [
        "MyNode",
        .product(name: "CortTesting", package: "cort"),
    ]),
]
// end snippet
*/
