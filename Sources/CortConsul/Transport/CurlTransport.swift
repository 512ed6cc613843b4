/// HTTP to one Consul agent through libcurl, for any number of concurrent tasks.
///
/// Owns a ``CurlMultiLoop`` and stops it when released, so the loop's thread lives exactly
/// as long as the client that uses it.
final class CurlTransport: Sendable {
    let loop: CurlMultiLoop
    private let session: CurlSessionOptions
    private let fixedHeaders: [String]

    init(configuration: ConsulConfiguration) {
        loop = CurlMultiLoop()
        session = CurlSessionOptions(configuration)
        var headers = ["Accept: application/json", "User-Agent: cort-consul"]
        if let token = configuration.token {
            headers.append("X-Consul-Token: \(token)")
        }
        fixedHeaders = headers
    }

    deinit {
        loop.stop()
    }

    /// Runs `request` and returns the agent's answer, whatever its status.
    ///
    /// Suspends the task without blocking a thread. Cancelling the task abandons the
    /// exchange at once (its easy handle is removed by the loop thread) and throws
    /// ``ConsulError/Code/cancelled``.
    func perform(_ request: HTTPRequest) async throws(ConsulError) -> HTTPResponse {
        var headers = fixedHeaders
        if request.body != nil { headers.append("Content-Type: application/json") }
        let transfer = CurlTransfer(
            request: request, url: session.baseURL + request.target, headerLines: headers, session: session)
        let loop = self.loop
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                    if transfer.attach(continuation) {
                        loop.submit(transfer)
                    }
                }
            } onCancel: {
                if transfer.cancel() { loop.remove(transfer) }
            }
        } catch let error as ConsulError {
            throw error
        } catch {
            throw ConsulError(.transport, "\(request.summary): \(error)")
        }
    }

    /// Stops the loop: exchanges in flight fail with ``ConsulError/Code/shutDown``.
    func shutdown() {
        loop.stop()
    }
}
