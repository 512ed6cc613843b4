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
        let ended = try await withDeadline(.seconds(20)) {
            // `.init` is SystemPackage's FilePath, which this target does not import.
            let result = try await Subprocess.run(
                .path(.init(executable.path)), arguments: Arguments(arguments),
                environment: .inherit.updating(updates),
                input: .none, output: .string(limit: 1 << 20), error: .string(limit: 1 << 20))
            return Run(exit: ChildProcess.Exit(result.terminationStatus),
                       output: result.standardOutput, errors: result.standardError)
        }
        return try #require(ended, "cort \(arguments.joined(separator: " ")) did not end within 20 s")
    }

    /// Variables of the test's own environment that would choose another
    /// discovery backend or CURVE for `cort`.
    static let discoveryAndSecurity = ["CORT_DISCOVERY", "CONSUL_HTTP_ADDR", "CORT_STATIC_SERVICES",
                                       "CORT_CURVE_SECRET_KEY", "CORT_CURVE_SECRET_KEY_FILE",
                                       "CORT_CURVE_ALLOWED_CALLERS_FILE"]

    /// Runs `cort` with exactly `environment` among ``discoveryAndSecurity``
    /// (the others removed), the rest of the test's environment inherited.
    static func run(_ arguments: [String], only environment: [String: String]) async throws -> Run {
        var variables: [Environment.Key: String?] = [:]
        for name in discoveryAndSecurity { variables[Environment.Key(stringLiteral: name)] = .some(nil) }
        for (name, value) in environment { variables[Environment.Key(stringLiteral: name)] = value }
        return try await run(arguments, environment: variables)
    }
}
