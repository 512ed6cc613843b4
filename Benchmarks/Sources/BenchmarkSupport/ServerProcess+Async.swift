import Foundation

// Starting and stopping a server waits (for its ready line, for its exit).
// From async code that wait would hold a thread of Swift's cooperative pool
// (two on this machine), which the calls in flight need: these wait on a
// thread of their own instead.
extension ServerProcess {
    /// Starts a server like ``init(executable:arguments:environment:timeout:)``.
    public static func launch(
        executable: URL, arguments: [String] = [], environment: [String: String] = [:],
        timeout: Duration = .seconds(10)
    ) async throws -> ServerProcess {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    try ServerProcess(executable: executable, arguments: arguments, environment: environment, timeout: timeout)
                })
            }
        }
    }

    /// Stops the server like ``stop()``.
    public func terminate() async {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                self.stop()
                continuation.resume()
            }
        }
    }
}
