import Foundation
import Synchronization

/// A benchmark server (`cort-bench-node`, `cort-echo-server`) in a process of
/// its own, on loopback.
///
/// The server binds a free port itself and prints `ready <endpoint>`; this
/// reads that line (with a deadline). The server's standard input is a pipe
/// from here: the server exits when it reaches end-of-file, so it never
/// outlives this process, even one that crashed or was killed.
public final class ServerProcess: Sendable {
    /// Where the server listens, as it printed it.
    public let endpoint: String
    /// The server's process id (the failover scenarios kill and freeze it).
    public let processIdentifier: Int32
    private let process: Mutex<Process?>
    private let standardInput: FileHandle

    /// Starts `executable` with `arguments` (and `environment` added to this
    /// process's) and waits up to `timeout` for its ready line.
    public init(executable: URL, arguments: [String] = [], environment: [String: String] = [:],
                timeout: Duration = .seconds(10)) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        do {
            endpoint = try Self.readReadyLine(output.fileHandleForReading, from: executable, timeout: timeout)
        } catch {
            Self.stop(process, input: input.fileHandleForWriting)
            throw error
        }
        // Whatever the server prints later is drained, so it never blocks on a full pipe.
        let reading = output.fileHandleForReading
        Thread.detachNewThread {
            while !reading.availableData.isEmpty {}
        }
        self.processIdentifier = process.processIdentifier
        self.process = Mutex(process)
        self.standardInput = input.fileHandleForWriting
    }

    deinit { stop() }

    /// Terminates the server (SIGTERM, then SIGKILL if it is still running
    /// after 3 seconds) and reaps it. Idempotent.
    public func stop() {
        guard let process = self.process.withLock({ $0.take() }) else { return }
        Self.stop(process, input: standardInput)
    }

    /// Sends `signalNumber` (`SIGKILL`, `SIGSTOP`, `SIGCONT`) to the server
    /// while this still owns it; after ``stop()`` it does nothing, so a
    /// reaped process id, which the system may have reused, is never signalled.
    public func signal(_ signalNumber: Int32) {
        process.withLock { process in
            guard let process, process.isRunning else { return }
            kill(process.processIdentifier, signalNumber)
        }
    }

    private static func stop(_ process: Process, input: FileHandle) {
        // A frozen server would not act on SIGTERM before the SIGKILL.
        if process.isRunning { kill(process.processIdentifier, SIGCONT) }
        try? input.close()
        if process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + .seconds(3)
        // Bounded: Process has no wait with a timeout.
        while process.isRunning, ContinuousClock.now < deadline {
            usleep(5_000)
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Reads lines until one starts with "ready " (a server may log other
    /// lines first), waiting with poll(2) until `timeout`.
    private static func readReadyLine(_ handle: FileHandle, from executable: URL, timeout: Duration) throws -> String {
        let deadline = ContinuousClock.now + timeout
        let name = executable.lastPathComponent
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 512)
        while true {
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if line.hasPrefix("ready ") { return String(line.dropFirst("ready ".count)) }
            }
            let remaining = deadline - ContinuousClock.now
            let milliseconds = remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000
            guard milliseconds > 0 else { throw BenchmarkFailure("\(name) printed no ready line within \(timeout)") }
            var descriptor = pollfd(fd: handle.fileDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Int32(milliseconds)) >= 0 || errno == EINTR else {
                throw BenchmarkFailure("poll on \(name)'s output failed: errno \(errno)")
            }
            guard descriptor.revents != 0 else { continue }
            let count = chunk.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count == 0 { throw BenchmarkFailure("\(name) exited before it was ready") }
            if count > 0 { pending += chunk[..<count] }
        }
    }

    /// The benchmark executable `name`: in `$CORT_BENCH_BIN` when set, else
    /// beside the running executable (both are built into the same
    /// `.build/<configuration>` folder).
    public static func executable(named name: String) throws -> URL {
        let folder: URL
        if let bin = ProcessInfo.processInfo.environment["CORT_BENCH_BIN"] {
            folder = URL(fileURLWithPath: bin)
        } else {
            let running = Bundle.main.executableURL ?? URL(fileURLWithPath: CommandLine.arguments[0])
            folder = running.resolvingSymlinksInPath().deletingLastPathComponent()
        }
        let url = folder.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw BenchmarkFailure(
                "\(url.path) is missing: build it first with `swift build -c release --product \(name)` "
                    + "(or point CORT_BENCH_BIN at the folder that has it)")
        }
        return url
    }
}
