import Foundation
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
        let process = Process()
        process.executableURL = try NodeProcess.executable()
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        let exit = Watched<Int32?>(nil)
        process.terminationHandler = { process in
            let status = process.terminationStatus
            exit.update { $0 = status }
        }
        try process.run()
        let exited = await exit.wait(timeout: .seconds(20)) { $0 != nil }
        if !exited { kill(process.processIdentifier, SIGKILL) }
        try #require(exited, "the node exits on bad arguments")
        // It has exited, so its standard error is complete and closed.
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(exit.value == 2)
        #expect(text.contains(message), "\(text)")
        #expect(!text.contains("ready"))
    }
}
