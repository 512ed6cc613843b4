import Foundation
import Subprocess
import Synchronization
import Testing

/// A test executable running as a child process, started with
/// swift-subprocess and held by an object, so that a test can signal it,
/// watch what it prints and wait for its end at will.
///
/// Subprocess scopes a process's life to the closure given to its `run`. That
/// call runs in a task this object owns; its closure publishes the pid, a way
/// to signal the process and every line it prints, holds its standard input
/// open (a pipe: the test executables exit at end-of-file, so they also end
/// when this process dies) until ``closeInput()``, and returns once the
/// child's output has ended. `run` then reaps the child and the task
/// publishes ``exit``. Dropping the object closes the input and cancels the
/// task, which kills a child still running: it lives no longer than its owner.
///
/// Foundation's `Process.run()` is not used: in Swift 6.3.1 on Linux it reads
/// past a buffer in `findMaximumOpenFromProcSelfFD()` and now and then crashes
/// a process with many open files, as the test process is
/// (swift-corelibs-foundation PR #5472). Subprocess closes the child's other
/// descriptors with `close_range`.
///
/// ```swift
/// let child = try await ChildProcess.start(executable: url, arguments: ["--name", "n"], standardError: .collected)
/// _ = await child.output.wait(timeout: .seconds(20)) { $0.lines.contains("flooding") }
/// child.send(SIGKILL)
/// _ = await child.exit.wait(timeout: .seconds(10)) { $0 != nil }
/// ```
final class ChildProcess: Sendable {
    /// What the child printed on standard output, line by line, and whether
    /// that output has ended.
    struct Output: Sendable {
        var lines: [String] = []
        var ended = false
    }

    /// How the child ended.
    struct Exit: Sendable, Equatable, CustomStringConvertible {
        /// The exit status, or the signal's number when `signalled`.
        var status: Int32
        var signalled: Bool
        var description: String { signalled ? "killed by signal \(status)" : "exit status \(status)" }

        init(status: Int32, signalled: Bool) {
            self.status = status
            self.signalled = signalled
        }

        init(_ termination: TerminationStatus) {
            switch termination {
            case .exited(let status): self.init(status: status, signalled: false)
            case .signaled(let signal): self.init(status: signal, signalled: true)
            }
        }
    }

    /// Where the child's standard error goes.
    enum StandardError: Sendable {
        /// Straight into the file at this path (created or emptied first), so
        /// it is complete even when this process dies first.
        case file(String)
        /// Read here into ``ChildProcess/errors``.
        case collected
    }

    let pid: Int32
    let output: Watched<Output>
    /// All the child wrote on standard error, once that has ended (with
    /// ``StandardError/collected``; nil for ever with ``StandardError/file(_:)``).
    let errors: Watched<String?>
    /// How the child ended, once `run` has reaped it.
    let exit: Watched<Exit?>
    private let link: Link
    private let task: Task<Void, Never>

    private init(pid: Int32, link: Link, task: Task<Void, Never>) {
        self.pid = pid
        self.output = link.output
        self.errors = link.errors
        self.exit = link.exit
        self.link = link
        self.task = task
    }

    deinit {
        closeInput()
        task.cancel()
    }

    /// Starts `executable` with `arguments`, its standard input a pipe held
    /// open and its standard output read line by line; returns once it has
    /// been spawned (it waits for nothing the child prints).
    static func start(executable: URL, arguments: [String], standardError: StandardError) async throws -> ChildProcess {
        // `.init` is SystemPackage's FilePath, which this target does not import.
        let configuration = Configuration(executable: .path(.init(executable.path)), arguments: Arguments(arguments))
        var errorFile: Int32?
        if case .file(let path) = standardError {
            let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                throw ProcessTestFailure("cannot create \(path): \(String(cString: strerror(errno)))")
            }
            errorFile = descriptor
        }
        let link = Link()
        let task = Task { [errorFile] in
            do {
                let termination: TerminationStatus
                if let errorFile {
                    termination = try await Subprocess.run(
                        configuration, input: .inputWriter, output: .sequence,
                        error: .fileDescriptor(.init(rawValue: errorFile), closeAfterSpawningProcess: true)
                    ) { execution in
                        await link.supervise(execution, standardError: nil)
                    }.terminationStatus
                } else {
                    termination = try await Subprocess.run(
                        configuration, input: .inputWriter, output: .sequence, error: .sequence
                    ) { execution in
                        await link.supervise(execution, standardError: execution.standardError)
                    }.terminationStatus
                }
                link.exit.update { $0 = Exit(termination) }
            } catch {
                link.failed(error, executable: executable)
            }
        }
        // Spawning ends either way at once; the deadline only bounds the wait.
        _ = await link.launch.wait(timeout: .seconds(20)) { $0 != nil }
        switch link.launch.value {
        case .running(let pid)?:
            return ChildProcess(pid: pid, link: link, task: task)
        case .failed(let reason)?:
            throw ProcessTestFailure("cannot start \(executable.path): \(reason)")
        case nil:
            task.cancel()
            throw ProcessTestFailure("\(executable.path) was not spawned within 20 s")
        }
    }

    /// Sends `signal` (SIGKILL, SIGTERM, SIGSTOP, SIGCONT) to the child, unless
    /// it has already ended. It goes through the child's pidfd, so it cannot
    /// reach another process that was given a reused pid.
    func send(_ signal: Int32) {
        link.signal.withLock { $0?(signal) }
    }

    /// Closes the child's standard input: the test executables exit at
    /// end-of-file. Idempotent.
    func closeInput() {
        link.inputClosed.update { $0 = true }
    }
}

extension ChildProcess {
    /// What the object and the task running the child share: the task does
    /// not hold the object, so dropping the object can end the child.
    private final class Link: Sendable {
        enum Launch: Sendable {
            case running(Int32)
            case failed(String)
        }

        let launch = Watched<Launch?>(nil)
        let output = Watched(Output())
        let errors = Watched<String?>(nil)
        let exit = Watched<Exit?>(nil)
        let inputClosed = Watched(false)
        /// Signals the child while `run`'s closure runs, nil before and after:
        /// the execution it captures is valid only inside that closure.
        let signal = Mutex<(@Sendable (Int32) -> Void)?>(nil)

        /// The body of `run`: publishes the child, closes its input when
        /// asked, and returns once its output (and collected standard error)
        /// has ended, which the child's exit brings about.
        func supervise<Failure: ErrorOutputProtocol>(
            _ execution: Execution<CustomWriteInput, SequenceOutput, Failure>,
            standardError: SubprocessOutputSequence?
        ) async {
            signal.withLock { signal in
                signal = { number in try? execution.send(signal: Subprocess.Signal(rawValue: number)) }
            }
            launch.update { $0 = .running(execution.processIdentifier.value) }
            // Each child task returns whether it reads an output; the input's
            // task waits for `closeInput()` and is cancelled once both have ended.
            await withTaskGroup(of: Bool.self) { group in
                group.addTask {
                    if await self.inputClosed.wait(until: { $0 }) {
                        try? await execution.standardInputWriter.finish()
                    }
                    return false
                }
                group.addTask {
                    await self.readLines(of: execution.standardOutput)
                    return true
                }
                var readers = 1
                if let standardError {
                    readers += 1
                    group.addTask {
                        await self.collectErrors(from: standardError)
                        return true
                    }
                }
                while readers > 0, let reader = await group.next() {
                    if reader { readers -= 1 }
                }
                group.cancelAll()
            }
            signal.withLock { $0 = nil }
        }

        func failed(_ error: any Error, executable: URL) {
            let reason = "\(error)"
            let spawned = launch.update { launch in
                if launch == nil {
                    launch = .failed(reason)
                    return false
                }
                return true
            }
            if spawned {
                Issue.record("running \(executable.lastPathComponent) failed: \(reason)")
                output.update { $0.ended = true }
                errors.update { $0 = $0 ?? "" }
            }
        }

        private func readLines(of sequence: SubprocessOutputSequence) async {
            do {
                for try await line in sequence.strings(separatedBy: .unicodeScalarSequence(["\n"]), bufferingPolicy: .unbounded) {
                    output.update { $0.lines.append(line) }
                }
            } catch {
                Issue.record("reading a child's standard output failed: \(error)")
            }
            output.update { $0.ended = true }
        }

        private func collectErrors(from sequence: SubprocessOutputSequence) async {
            var bytes: [UInt8] = []
            do {
                for try await buffer in sequence {
                    buffer.withUnsafeBytes { bytes.append(contentsOf: $0) }
                }
            } catch {
                Issue.record("reading a child's standard error failed: \(error)")
            }
            let text = String(decoding: bytes, as: UTF8.self)
            errors.update { $0 = text }
        }
    }
}
