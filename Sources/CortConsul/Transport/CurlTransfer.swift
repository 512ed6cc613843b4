internal import CCurl
import Foundation
import Synchronization

/// One HTTP exchange: the request as libcurl needs it, the answer as it arrives, and the
/// continuation of the task that waits for it.
///
/// @unchecked Sendable, proven so: `state` is behind a Mutex; `request`, `url`, `headerLines`
/// and `session` are immutable; every other stored property (the easy handle, the
/// header list, the error buffer, the body and headers received) is touched only by the
/// loop thread of ``CurlMultiLoop`` (configure, callbacks, completion, cleanup), which is
/// the only thread that runs libcurl for this transfer.
final class CurlTransfer: @unchecked Sendable {
    private enum State {
        /// Made, not yet waited for.
        case created
        /// A task waits for the answer.
        case waiting(CheckedContinuation<HTTPResponse, any Error>)
        /// The waiting task was resumed (answer, failure or cancellation); later results are dropped.
        case finished
        /// Cancelled before anybody waited.
        case cancelled
    }

    let request: HTTPRequest
    let url: String
    let headerLines: [String]
    let session: CurlSessionOptions
    var maxBodySize: Int { session.maxBodySize }
    private let state = Mutex(State.created)

    // Loop-thread-only.
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    var connectToList: UnsafeMutablePointer<curl_slist>?
    let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    var body: [UInt8] = []
    var receivedHeaders: [String: String] = [:]
    var bodyTooLarge = false

    init(request: HTTPRequest, url: String, headerLines: [String], session: CurlSessionOptions) {
        self.request = request
        self.url = url
        self.headerLines = headerLines
        self.session = session
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        errorBuffer.deallocate()
    }

    /// Records the waiting task. Returns `false` (and fails the continuation) when the
    /// transfer was cancelled first.
    func attach(_ continuation: CheckedContinuation<HTTPResponse, any Error>) -> Bool {
        let attached = state.withLock { state in
            guard case .created = state else { return false }
            state = .waiting(continuation)
            return true
        }
        if !attached {
            continuation.resume(throwing: ConsulError(.cancelled, "\(request.summary) was cancelled"))
        }
        return attached
    }

    /// Resumes the waiting task with `result`, once; later calls do nothing.
    func finish(_ result: Result<HTTPResponse, ConsulError>) {
        let continuation = state.withLock { state -> CheckedContinuation<HTTPResponse, any Error>? in
            guard case .waiting(let continuation) = state else { return nil }
            state = .finished
            return continuation
        }
        continuation?.resume(with: result.mapError { $0 as any Error })
    }

    /// Cancels the exchange: the waiting task (if any) is resumed at once with
    /// ``ConsulError/Code/cancelled``. Returns whether the loop may hold an easy handle for
    /// it that must be removed.
    func cancel() -> Bool {
        let (continuation, submitted) = state.withLock { state -> (CheckedContinuation<HTTPResponse, any Error>?, Bool) in
            switch state {
            case .created:
                state = .cancelled
                return (nil, false)
            case .waiting(let continuation):
                state = .finished
                return (continuation, true)
            case .finished, .cancelled:
                return (nil, false)
            }
        }
        continuation?.resume(throwing: ConsulError(.cancelled, "\(request.summary) was cancelled"))
        return submitted
    }

    /// Whether nobody waits any more (so the loop need not start or finish the exchange).
    var isAbandoned: Bool {
        state.withLock { state in
            switch state {
            case .created, .waiting: return false
            case .finished, .cancelled: return true
            }
        }
    }

    // MARK: Callbacks (loop thread)

    /// Appends body bytes; returns a short count, which makes libcurl abort the transfer
    /// with `CURLE_WRITE_ERROR`, once the body would exceed its cap.
    func receiveBody(_ data: UnsafeMutablePointer<CChar>?, count: Int) -> Int {
        guard count > 0, let data else { return count }
        if body.count + count > maxBodySize {
            bodyTooLarge = true
            return 0
        }
        data.withMemoryRebound(to: UInt8.self, capacity: count) { bytes in
            body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: count))
        }
        return count
    }

    /// Records one header line; a status line starts a new set (an interim `100 Continue`
    /// or a proxy's answer comes before the real one).
    func receiveHeader(_ data: UnsafeMutablePointer<CChar>?, count: Int) -> Int {
        guard count > 0, let data else { return count }
        let line = data.withMemoryRebound(to: UInt8.self, capacity: count) { bytes in
            String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
        }
        if line.hasPrefix("HTTP/") {
            receivedHeaders = [:]
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            receivedHeaders[name] = value
        }
        return count
    }
}
