import Foundation

/// The test executables (`CortTestNode`, `CortTestCaller`) the process tests start.
enum TestExecutable {
    /// The executable of `product`: the path in `environmentVariable` when
    /// set, else beside the test bundle (both are built into the same
    /// `.build/<configuration>` folder).
    static func url(product: String, environmentVariable: String) throws -> URL {
        if let path = ProcessInfo.processInfo.environment[environmentVariable] {
            return URL(fileURLWithPath: path)
        }
        let running = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
        let url = running.resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent(product)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw ProcessTestFailure("\(url.path) is missing: build it with `swift build --product \(product)` "
                                     + "(or set \(environmentVariable) to its path)")
        }
        return url
    }
}
