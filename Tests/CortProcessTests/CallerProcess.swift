import Foundation
import Synchronization
import Testing

/// One `CortTestCaller` process, flooding nodes from outside the test process.
///
/// Like ``NodeProcess``: its standard input is a pipe from this process, so
/// it exits when this process does; its standard output and standard error
/// are read on threads of their own (never on the cooperative pool).
final class CallerProcess: Sendable {
    /// How a run ended: its exit (nil when it had to be killed), everything
    /// it printed on standard output, line by line, and on standard error.
    struct Finished: Sendable {
        var exit: NodeProcess.Exit?
        var lines: [String]
        var errors: String
    }

    let pid: Int32
    let output: Watched<NodeProcess.Output>
    /// Its whole standard error, once that has ended.
    let errors: Watched<String?>
    let exit: Watched<NodeProcess.Exit?>
    private let standardInput: FileHandle
    // Kept so the Process and its termination handler live as long as this;
    // Process is not Sendable, so it sits behind a lock (and nothing reads it).
    private let process: Mutex<Process>

    private init(pid: Int32, output: Watched<NodeProcess.Output>, errors: Watched<String?>,
                 exit: Watched<NodeProcess.Exit?>, standardInput: FileHandle, process: Process) {
        self.pid = pid
        self.output = output
        self.errors = errors
        self.exit = exit
        self.standardInput = standardInput
        self.process = Mutex(process)
    }

    /// Starts `CortTestCaller` with `arguments`.
    static func start(arguments: [String]) throws -> CallerProcess {
        let process = Process()
        process.executableURL = try TestExecutable.url(product: "CortTestCaller", environmentVariable: "CORT_TEST_CALLER")
        process.arguments = arguments
        let input = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = input
        process.standardOutput = stdout
        process.standardError = stderr
        let exit = Watched<NodeProcess.Exit?>(nil)
        process.terminationHandler = { process in
            let status = process.terminationStatus
            let signalled = process.terminationReason == .uncaughtSignal
            exit.update { $0 = NodeProcess.Exit(status: status, signalled: signalled) }
        }
        try process.run()
        let output = Watched(NodeProcess.Output())
        let reading = stdout.fileHandleForReading
        Thread.detachNewThread {
            var pending = Data()
            while true {
                let data = reading.availableData
                if data.isEmpty { break }
                pending.append(data)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    pending.removeSubrange(pending.startIndex...newline)
                    output.update { $0.lines.append(line) }
                }
            }
            output.update { $0.ended = true }
        }
        let errors = Watched<String?>(nil)
        let readingErrors = stderr.fileHandleForReading
        Thread.detachNewThread {
            let text = String(decoding: readingErrors.readDataToEndOfFile(), as: UTF8.self)
            errors.update { $0 = text }
        }
        return CallerProcess(pid: process.processIdentifier, output: output, errors: errors, exit: exit,
                             standardInput: input.fileHandleForWriting, process: process)
    }

    /// Starts `CortTestCaller` with `arguments` and waits for it to finish (see ``finish(timeout:)``).
    static func run(arguments: [String], timeout: Duration) async throws -> Finished {
        try await start(arguments: arguments).finish(timeout: timeout)
    }

    /// Closes its standard input: it exits at end-of-file.
    func closeInput() {
        try? standardInput.close()
    }

    /// Waits up to `timeout` for the process to exit, killing it when it
    /// does not, then for the rest of its output.
    func finish(timeout: Duration) async -> Finished {
        let exited = await exit.wait(timeout: timeout) { $0 != nil }
        if !exited {
            kill(pid, SIGKILL)
            closeInput()
            _ = await exit.wait(timeout: .seconds(10)) { $0 != nil }
        }
        // It has exited, so its outputs end (or it kept them open in a child:
        // it starts none).
        _ = await output.wait(timeout: .seconds(10)) { $0.ended }
        _ = await errors.wait(timeout: .seconds(10)) { $0 != nil }
        closeInput()
        return Finished(exit: exited ? exit.value : nil, lines: output.value.lines, errors: errors.value ?? "")
    }
}
