import Foundation
import Testing

/// The test caller's command line: bad arguments get a clear message and
/// exit 2; end-of-file on its standard input ends it.
@Suite("CortTestCaller command line")
struct CortTestCallerTests {
    @Test("bad arguments are refused with a clear message and exit status 2", arguments: [
        ([], "--endpoints is required"),
        (["--endpoints"], "--endpoints needs a value"),
        (["--endpoints", "tcp://127.0.0.1:1,,tcp://127.0.0.1:2"], "--endpoints has an empty endpoint"),
        (["--endpoints", "tcp://127.0.0.1:1", "--calls", "0"], "--calls wants a number ≥ 1"),
        (["--endpoints", "tcp://127.0.0.1:1", "--per-node", "many"], "--per-node wants a number ≥ 1"),
        (["--endpoints", "tcp://127.0.0.1:1", "--per-service", "-3"], "--per-service wants a number ≥ 1"),
        (["--endpoints", "tcp://127.0.0.1:1", "--when-full", "drop"], "--when-full wants wait or fail-fast"),
        (["--endpoints", "tcp://127.0.0.1:1", "--timeout-ms", "0"], "--timeout-ms wants a number ≥ 1"),
        (["--endpoints", "tcp://127.0.0.1:1", "--warm-up", "-1"], "--warm-up wants a number ≥ 0"),
        (["--endpoints", "tcp://127.0.0.1:1", "--colour", "blue"], "unknown option --colour"),
        (["--endpoints", "tcp://127.0.0.1:1,tcp://127.0.0.1:1"], "cannot start"),
        (["--endpoints", "nowhere"], "cannot start"),
    ])
    func badArguments(arguments: [String], message: String) async throws {
        let finished = try await CallerProcess.run(arguments: arguments, timeout: .seconds(20))
        try #require(finished.exit != nil, "the caller exits on bad arguments")
        #expect(finished.exit?.status == 2 && finished.exit?.signalled == false, "\(finished.exit?.description ?? "")")
        #expect(finished.errors.contains(message), "\(finished.errors)")
        #expect(finished.lines.isEmpty, "nothing on standard output: \(finished.lines)")
    }

    @Test("end-of-file on its standard input ends it with exit status 3, its calls unfinished")
    func endOfInput() async throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("cort-test-caller-\(ProcessInfo.processInfo.processIdentifier)-\(UInt64.random(in: 0...UInt64.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // A live node that takes a minute a call: whatever the machine's
        // speed, the caller cannot have finished (or failed) its warm-up read
        // when its input ends, so only end-of-file can end it.
        let node = try await NodeProcess.start(name: "slow", in: folder, delayMilliseconds: 60_000, replicas: 1)
        let caller: CallerProcess
        do {
            caller = try await CallerProcess.start(arguments: ["--endpoints", node.endpoint, "--timeout-ms", "120000", "--calls", "10"])
        } catch {
            await node.stop()
            throw error
        }
        caller.closeInput()
        let finished = await caller.finish(timeout: .seconds(20))
        await node.stop()
        #expect(finished.exit?.status == 3 && finished.exit?.signalled == false,
                "\(finished.exit?.description ?? "killed after 20 s")")
        #expect(finished.errors.contains("standard input closed before the flood ended"), "\(finished.errors)")
        #expect(!finished.lines.contains("flooding"))
    }
}
