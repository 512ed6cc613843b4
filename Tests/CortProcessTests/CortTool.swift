import Foundation
import Subprocess
import Testing

/// The built `cort` executable, run to its end for the tests of its subcommands.
enum CortTool {
    /// What a run of `cort` left.
    struct Run {
        var exit: ChildProcess.Exit
        var output: String
        var errors: String
    }

    /// Runs `cort` with `arguments` and the environment changed by `updates`
    /// (nil removes a variable), its standard output and error collected; a
    /// run that outlives 20 s is cancelled, which kills it.
    static func run(_ arguments: [String], environment updates: [Environment.Key: String?] = [:]) async throws -> Run {
        // Built beside the test bundle by `swift build --build-tests`, as the test nodes are.
        let executable = try TestExecutable.url(product: "cort", environmentVariable: "CORT_EXECUTABLE")
        let ended = try await withThrowingTaskGroup(of: Run?.self) { group in
            group.addTask {
                // `.init` is SystemPackage's FilePath, which this target does not import.
                let result = try await Subprocess.run(
                    .path(.init(executable.path)), arguments: Arguments(arguments),
                    environment: .inherit.updating(updates),
                    input: .none, output: .string(limit: 1 << 20), error: .string(limit: 1 << 20))
                return Run(exit: ChildProcess.Exit(result.terminationStatus),
                           output: result.standardOutput, errors: result.standardError)
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(20))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
        }
        return try #require(ended, "cort \(arguments.joined(separator: " ")) did not end within 20 s")
    }
}
