import Foundation
import Synchronization
import Testing

/// One `CortTestNode` process hosting the `ledger` service.
///
/// Its standard input is a pipe from this process, so it exits when this
/// process does (end-of-file), even after a crash. Its standard output is read
/// on a thread of its own (never on the cooperative pool) into ``output``; its
/// standard error goes to a file beside its execution log, shown when a test fails.
final class NodeProcess: Sendable {
    /// What the node printed, and whether its output has ended.
    struct Output: Sendable {
        var lines: [String] = []
        var ended = false
    }

    /// How the process ended.
    struct Exit: Sendable, CustomStringConvertible {
        var status: Int32
        var signalled: Bool
        var description: String { signalled ? "killed by signal \(status)" : "exit status \(status)" }
    }

    let name: String
    let logPath: String
    let errorPath: String
    /// The endpoint it serves on, from its ready line ("" before it).
    var endpoint: String {
        output.value.lines.first { $0.hasPrefix("ready ") }.map { String($0.dropFirst("ready ".count)) } ?? ""
    }
    let pid: Int32
    let output: Watched<Output>
    let exit: Watched<Exit?>
    private let standardInput: FileHandle
    // Kept so the Process and its termination handler live as long as this;
    // Process is not Sendable, so it sits behind a lock (and nothing reads it).
    private let process: Mutex<Process>

    private init(name: String, logPath: String, errorPath: String, pid: Int32,
                 output: Watched<Output>, exit: Watched<Exit?>, standardInput: FileHandle, process: Process) {
        self.name = name
        self.logPath = logPath
        self.errorPath = errorPath
        self.pid = pid
        self.output = output
        self.exit = exit
        self.standardInput = standardInput
        self.process = Mutex(process)
    }

    /// Starts a node named `name` in `folder` (its log `<name>.log`, its
    /// standard error `<name>.stderr`) and waits up to `timeout` for its ready line.
    static func start(
        name: String, in folder: URL, endpoint: String = "tcp://127.0.0.1:0", delayMilliseconds: Int = 0,
        replicas: Int = 4, consul: String? = nil, timeout: Duration = .seconds(20)
    ) async throws -> NodeProcess {
        let logPath = folder.appendingPathComponent("\(name).log").path
        let errorPath = folder.appendingPathComponent("\(name).stderr").path
        let process = Process()
        process.executableURL = try executable()
        process.arguments = ["--name", name, "--log", logPath, "--endpoint", endpoint,
                             "--replicas", "\(replicas)", "--delay-ms", "\(delayMilliseconds)"]
            + (consul.map { ["--consul", $0, "--ttl-ms", "1000"] } ?? [])
        let input = Pipe()
        let stdout = Pipe()
        guard FileManager.default.createFile(atPath: errorPath, contents: nil),
              let stderr = FileHandle(forWritingAtPath: errorPath) else {
            throw ProcessTestFailure("cannot create \(errorPath)")
        }
        process.standardInput = input
        process.standardOutput = stdout
        process.standardError = stderr
        let exit = Watched<Exit?>(nil)
        process.terminationHandler = { process in
            let status = process.terminationStatus
            let signalled = process.terminationReason == .uncaughtSignal
            exit.update { $0 = Exit(status: status, signalled: signalled) }
        }
        try process.run()
        try? stderr.close()
        let output = Watched(Output())
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
        let started = NodeProcess(
            name: name, logPath: logPath, errorPath: errorPath, pid: process.processIdentifier,
            output: output, exit: exit, standardInput: input.fileHandleForWriting, process: process)
        let ready = await output.wait(timeout: timeout) { output in
            output.ended || output.lines.contains { $0.hasPrefix("ready ") }
        }
        guard ready, !started.endpoint.isEmpty else {
            await started.stop()
            throw ProcessTestFailure(
                "\(name) printed no ready line within \(timeout) (\(started.exit.value?.description ?? "still running")); "
                    + "its standard error: \(started.errorTail())")
        }
        return started
    }

    /// Sends `signal` to the process (SIGKILL, SIGTERM, SIGSTOP, SIGCONT).
    func send(_ signal: Int32) {
        if exit.value == nil {
            kill(pid, signal)
        }
    }

    /// Waits up to `timeout` for the process to end; nil if it did not.
    func waitForExit(timeout: Duration) async -> Exit? {
        _ = await exit.wait(timeout: timeout) { $0 != nil }
        return exit.value
    }

    /// Ends the process for good: closes its input, kills it (SIGKILL also
    /// ends a stopped process) and waits for it. Idempotent.
    func stop() async {
        try? standardInput.close()
        send(SIGKILL)
        if await waitForExit(timeout: .seconds(10)) == nil {
            Issue.record("\(name) (pid \(pid)) did not exit within 10 s of SIGKILL")
        }
    }

    /// The last lines the process wrote to standard error.
    func errorTail(lines count: Int = 20) -> String {
        guard let text = try? String(contentsOfFile: errorPath, encoding: .utf8), !text.isEmpty else { return "(empty)" }
        return text.split(separator: "\n").suffix(count).joined(separator: "\n")
    }

    /// `CortTestNode`: `$CORT_TEST_NODE` when set, else beside the test bundle.
    static func executable() throws -> URL {
        try TestExecutable.url(product: "CortTestNode", environmentVariable: "CORT_TEST_NODE")
    }
}

/// A failure of the test's own machinery (a node that would not start).
struct ProcessTestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
