import Foundation
import Testing

/// One `CortTestNode` process hosting the `ledger` service.
///
/// It runs as a ``ChildProcess``: its standard input is a pipe from this
/// process, so it exits when this process does (end-of-file), even after a
/// crash; its standard output is read line by line into ``output`` (off the
/// cooperative pool's threads: Subprocess waits on its own epoll thread); its
/// standard error goes to a file beside its execution log, shown when a test fails.
final class NodeProcess: Sendable {
    /// What the node printed, and whether its output has ended.
    typealias Output = ChildProcess.Output
    /// How the process ended.
    typealias Exit = ChildProcess.Exit

    let name: String
    let logPath: String
    let errorPath: String
    /// The network namespace it runs in, nil for the test's own.
    let namespace: NetworkNamespace?
    /// The endpoint it serves on, from its ready line ("" before it).
    var endpoint: String {
        output.value.lines.first { $0.hasPrefix("ready ") }.map { String($0.dropFirst("ready ".count)) } ?? ""
    }
    var pid: Int32 { child.pid }
    var output: Watched<Output> { child.output }
    var exit: Watched<Exit?> { child.exit }
    private let child: ChildProcess

    private init(name: String, logPath: String, errorPath: String, namespace: NetworkNamespace?, child: ChildProcess) {
        self.name = name
        self.logPath = logPath
        self.errorPath = errorPath
        self.namespace = namespace
        self.child = child
    }

    /// Starts a node named `name` in `folder` (its log `<name>.log`, its
    /// standard error `<name>.stderr`) and waits up to `timeout` for its ready line.
    /// Inside `namespace` (through `ip netns exec`, which execs the node, so
    /// the child is the node itself) it serves on the namespace's address
    /// unless `endpoint` says otherwise.
    static func start(
        name: String, in folder: URL, endpoint: String? = nil, delayMilliseconds: Int = 0,
        replicas: Int = 4, consul: String? = nil, namespace: NetworkNamespace? = nil, timeout: Duration = .seconds(20)
    ) async throws -> NodeProcess {
        let endpoint = endpoint ?? "tcp://\(namespace?.address ?? "127.0.0.1"):0"
        let logPath = folder.appendingPathComponent("\(name).log").path
        let errorPath = folder.appendingPathComponent("\(name).stderr").path
        let arguments = ["--name", name, "--log", logPath, "--endpoint", endpoint,
                         "--replicas", "\(replicas)", "--delay-ms", "\(delayMilliseconds)"]
            + (consul.map { ["--consul", $0, "--ttl-ms", "1000"] } ?? [])
        var command = (executable: try executable(), arguments: arguments)
        if let namespace {
            command = try namespace.command(command.executable.path, arguments)
        }
        let child = try await ChildProcess.start(executable: command.executable, arguments: command.arguments,
                                                 standardError: .file(errorPath))
        let started = NodeProcess(name: name, logPath: logPath, errorPath: errorPath, namespace: namespace, child: child)
        let ready = await started.output.wait(timeout: timeout) { output in
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
        child.send(signal)
    }

    /// Waits up to `timeout` for the process to end; nil if it did not.
    func waitForExit(timeout: Duration) async -> Exit? {
        _ = await exit.wait(timeout: timeout) { $0 != nil }
        return exit.value
    }

    /// Ends the process for good: closes its input, kills it (SIGKILL also
    /// ends a stopped process) and waits for it. Idempotent.
    func stop() async {
        child.closeInput()
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
