import Foundation
import Testing

/// One `CortTestCaller` process, flooding nodes from outside the test process.
///
/// Like ``NodeProcess``, a ``ChildProcess``: its standard input is a pipe from
/// this process, so it exits when this process does; its standard output is
/// read line by line and its standard error collected whole.
final class CallerProcess: Sendable {
    /// How a run ended: its exit (nil when it had to be killed), everything
    /// it printed on standard output, line by line, and on standard error.
    struct Finished: Sendable {
        var exit: NodeProcess.Exit?
        var lines: [String]
        var errors: String
    }

    var pid: Int32 { child.pid }
    var output: Watched<NodeProcess.Output> { child.output }
    /// Its whole standard error, once that has ended.
    var errors: Watched<String?> { child.errors }
    var exit: Watched<NodeProcess.Exit?> { child.exit }
    private let child: ChildProcess

    private init(child: ChildProcess) {
        self.child = child
    }

    /// Starts `CortTestCaller` with `arguments`.
    static func start(arguments: [String]) async throws -> CallerProcess {
        let executable = try TestExecutable.url(product: "CortTestCaller", environmentVariable: "CORT_TEST_CALLER")
        return CallerProcess(child: try await ChildProcess.start(executable: executable, arguments: arguments,
                                                                 standardError: .collected))
    }

    /// Starts `CortTestCaller` with `arguments` and waits for it to finish (see ``finish(timeout:)``).
    static func run(arguments: [String], timeout: Duration) async throws -> Finished {
        try await start(arguments: arguments).finish(timeout: timeout)
    }

    /// Closes its standard input: it exits at end-of-file.
    func closeInput() {
        child.closeInput()
    }

    /// Waits up to `timeout` for the process to exit, killing it when it
    /// does not, then for the rest of its output.
    func finish(timeout: Duration) async -> Finished {
        let exited = await exit.wait(timeout: timeout) { $0 != nil }
        if !exited {
            child.send(SIGKILL)
            closeInput()
            _ = await exit.wait(timeout: .seconds(10)) { $0 != nil }
        }
        // It has exited and `run` has reaped it, which it does only once
        // its outputs have ended: these waits return at once.
        _ = await output.wait(timeout: .seconds(10)) { $0.ended }
        _ = await errors.wait(timeout: .seconds(10)) { $0 != nil }
        closeInput()
        return Finished(exit: exited ? exit.value : nil, lines: output.value.lines, errors: errors.value ?? "")
    }
}
