import Foundation
import Subprocess
import Testing

/// The test node's command line: bad arguments get a clear message and exit 2.
@Suite("CortTestNode command line")
struct CortTestNodeTests {
    @Test("bad arguments are refused with a clear message and exit status 2", arguments: [
        ([], "--name is required"),
        (["--name", "n"], "--log is required"),
        (["--name", "n", "--log", "/tmp/x", "--replicas", "0"], "--replicas wants a positive number"),
        (["--name", "n", "--log", "/tmp/x", "--delay-ms", "-5"], "--delay-ms wants a number"),
        (["--name", "n", "--log", "/tmp/x", "--colour", "blue"], "unknown option --colour"),
        (["--name"], "--name needs a value"),
        (["--name", "n", "--log", "/nonexistent-folder/for-cort/node.log"], "cannot start"),
        (["--name", "n", "--log", "/tmp/cort-test-node-bad-endpoint.log", "--endpoint", "tcp://nowhere"], "cannot start"),
    ])
    func badArguments(arguments: [String], message: String) async throws {
        let executable = try NodeProcess.executable()
        // Its standard input and output are /dev/null; its standard error is
        // collected once it has exited. A run that outlives the deadline is
        // cancelled, which kills the node (Subprocess's teardown ends with SIGKILL).
        let ended = try await withDeadline(.seconds(20)) { () -> (exit: ChildProcess.Exit, errors: String) in
            // `.init` is SystemPackage's FilePath, which this target does not import.
            let result = try await Subprocess.run(
                .path(.init(executable.path)), arguments: Arguments(arguments),
                input: .none, output: .discarded, error: .string(limit: 1 << 20))
            return (ChildProcess.Exit(result.terminationStatus), result.standardError)
        }
        let (exit, text) = try #require(ended, "the node exits on bad arguments")
        #expect(exit == ChildProcess.Exit(status: 2, signalled: false), "\(exit)")
        #expect(text.contains(message), "\(text)")
        #expect(!text.contains("ready"))
    }
}
