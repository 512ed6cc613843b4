import ArgumentParser
import Foundation

/// A failure a subcommand reports: its message goes to standard error as
/// `cort COMMAND: message`, and the process exits with status 1 (or `code`).
struct CommandFailure: Error {
    let command: String
    let message: String
    let code: ExitCode

    init(command: String, _ message: String, code: ExitCode = .failure) {
        self.command = command
        self.message = message
        self.code = code
    }

    /// Writes the message and gives the exit code to throw from `run()`.
    func report() -> ExitCode {
        FileHandle.standardError.write(Data("cort \(command): \(message)\n".utf8))
        return code
    }
}

extension AsyncParsableCommand {
    /// Runs `body`, turning a ``CommandFailure`` into its message and exit code.
    func reportingFailures(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let failure as CommandFailure {
            throw failure.report()
        }
    }
}
