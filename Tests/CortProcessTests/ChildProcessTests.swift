import Foundation
import Testing

/// The machinery the process tests start their executables with, on small
/// system programs (`/bin/sh`, `/bin/cat`).
@Suite("ChildProcess")
struct ChildProcessTests {
    static let shell = URL(fileURLWithPath: "/bin/sh")
    static let cat = URL(fileURLWithPath: "/bin/cat")

    @Test("its lines are watched and its exit status is published once it has ended")
    func linesAndExitStatus() async throws {
        let child = try await ChildProcess.start(executable: Self.shell, arguments: ["-c", "echo one; echo two; exit 7"],
                                                 standardError: .collected)
        try #require(await child.exit.wait(timeout: .seconds(20)) { $0 != nil })
        #expect(child.exit.value == ChildProcess.Exit(status: 7, signalled: false))
        #expect(child.output.value.lines == ["one", "two"])
        #expect(child.output.value.ended)
        #expect(child.errors.value == "")
        #expect(child.pid > 0)
    }

    @Test("its standard input stays open until closeInput(), and end-of-file ends a child that reads it")
    func closingTheInputEndsIt() async throws {
        let child = try await ChildProcess.start(executable: Self.cat, arguments: [], standardError: .collected)
        // cat cannot end before its input does.
        #expect(child.exit.value == nil)
        child.closeInput()
        try #require(await child.exit.wait(timeout: .seconds(20)) { $0 != nil })
        #expect(child.exit.value == ChildProcess.Exit(status: 0, signalled: false))
    }

    @Test("a signal reaches it and it ends as signalled; once it has ended, sending does nothing")
    func signals() async throws {
        let child = try await ChildProcess.start(executable: Self.cat, arguments: [], standardError: .collected)
        child.send(SIGKILL)
        try #require(await child.exit.wait(timeout: .seconds(20)) { $0 != nil })
        #expect(child.exit.value == ChildProcess.Exit(status: SIGKILL, signalled: true))
        child.send(SIGTERM)
        child.closeInput()
        #expect(child.exit.value == ChildProcess.Exit(status: SIGKILL, signalled: true))
    }

    @Test("standard error is collected whole, or written straight to a file")
    func standardError() async throws {
        let collected = try await ChildProcess.start(executable: Self.shell, arguments: ["-c", "echo oops >&2; exit 1"],
                                                     standardError: .collected)
        try #require(await collected.errors.wait(timeout: .seconds(20)) { $0 != nil })
        #expect(collected.errors.value == "oops\n")

        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("cort-child-process-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max)).stderr").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "left over from before\n".write(toFile: path, atomically: false, encoding: .utf8)
        let filed = try await ChildProcess.start(executable: Self.shell, arguments: ["-c", "echo oops >&2; exit 1"],
                                                 standardError: .file(path))
        try #require(await filed.exit.wait(timeout: .seconds(20)) { $0 != nil })
        #expect(filed.exit.value == ChildProcess.Exit(status: 1, signalled: false))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "oops\n", "the file is emptied first")
        #expect(filed.errors.value == nil)
    }

    @Test("a child outlives no owner: dropping the object ends it")
    func droppingTheObjectEndsTheChild() async throws {
        var child: ChildProcess? = try await ChildProcess.start(executable: Self.cat, arguments: [], standardError: .collected)
        let exit = try #require(child?.exit)
        #expect(exit.value == nil)
        child = nil
        #expect(await exit.wait(timeout: .seconds(20)) { $0 != nil }, "its input closed, its task cancelled")
    }

    @Test("what cannot be started is refused with a clear error")
    func refusals() async throws {
        let missing = URL(fileURLWithPath: "/nonexistent-folder/for-cort/program")
        let notStarted = await #expect(throws: ProcessTestFailure.self) {
            _ = try await ChildProcess.start(executable: missing, arguments: [], standardError: .collected)
        }
        #expect(notStarted?.description.contains("cannot start /nonexistent-folder/for-cort/program") == true,
                "\(notStarted?.description ?? "")")

        let noFile = await #expect(throws: ProcessTestFailure.self) {
            _ = try await ChildProcess.start(executable: Self.cat, arguments: [],
                                             standardError: .file("/nonexistent-folder/for-cort/cat.stderr"))
        }
        #expect(noFile?.description.contains("cannot create /nonexistent-folder/for-cort/cat.stderr") == true,
                "\(noFile?.description ?? "")")
    }
}
