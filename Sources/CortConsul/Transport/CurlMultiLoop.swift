internal import CCurl
import Foundation
import Synchronization

/// One thread that runs every HTTP exchange of a client through one libcurl multi handle.
///
/// Tasks never block: they hand a ``CurlTransfer`` in through a Mutex-protected queue and
/// suspend on its continuation; the thread adds it to the multi handle, drives all
/// transfers with `curl_multi_perform`, resumes each task when its transfer completes,
/// and sleeps in `curl_multi_poll`, which `curl_multi_wakeup` interrupts when work is
/// handed in. A blocking query holds a connection, not a thread, so many watches share
/// this one thread. The multi handle keeps finished transfers' connections in its cache,
/// so the next request to the agent reuses one.
///
/// The thread starts with the first request (nothing runs before anything is asked) and
/// ends after ``stop()``, failing what is still in flight with
/// ``ConsulError/Code/shutDown``.
///
/// @unchecked Sendable, proven so: `shared` is behind a Mutex; `multi` is set once in
/// `init` and only freed by the loop thread after `shared.state` became `.stopped` under
/// the lock, and other threads call `curl_multi_wakeup` (documented as thread-safe) only
/// under that lock while the state is not `.stopped`; `active` is touched only by the loop
/// thread; the counters are atomics.
final class CurlMultiLoop: @unchecked Sendable {
    private enum Operation {
        case add(CurlTransfer)
        case remove(CurlTransfer)
    }

    private enum LoopState { case idle, running, stopping, stopped }

    private struct Shared {
        var operations: [Operation] = []
        var state = LoopState.idle
        var threadStarted = false
    }

    private let multi: UnsafeMutableRawPointer?
    private let shared = Mutex(Shared())
    private let threadName: String

    // Loop-thread-only.
    private var active: [UnsafeMutableRawPointer: CurlTransfer] = [:]

    /// Connections libcurl opened so far (a reused connection does not count).
    let connectionsOpened = Atomic<Int>(0)
    /// Transfers completed so far (answers and failures).
    let transfersCompleted = Atomic<Int>(0)

    init(threadName: String = "cort-consul") {
        _ = CurlGlobal.ensureInitialized()
        multi = curl_multi_init()
        self.threadName = threadName
        if let multi {
            // Watches hold connections for minutes; keep more than libcurl's default
            // (4 × handles) in the cache so a burst does not throw reusable ones away.
            _ = cort_curl_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, 64)
        }
    }

    deinit {
        // The thread holds a strong reference while it runs, so this runs only when the
        // loop never started or has stopped and cleaned up already.
        if let multi, !shared.withLock({ $0.threadStarted }) {
            curl_multi_cleanup(multi)
        }
    }

    /// Hands `transfer` to the loop thread, starting it on first use. Fails the transfer
    /// at once when the loop has stopped or libcurl could not be set up.
    func submit(_ transfer: CurlTransfer) {
        guard multi != nil else {
            transfer.finish(.failure(ConsulError(.transport, "libcurl could not be initialised")))
            return
        }
        let accepted = shared.withLock { shared -> Bool in
            switch shared.state {
            case .stopping, .stopped:
                return false
            case .idle:
                shared.state = .running
                shared.threadStarted = true
                shared.operations.append(.add(transfer))
                startThread()
                return true
            case .running:
                shared.operations.append(.add(transfer))
                curl_multi_wakeup(multi)
                return true
            }
        }
        if !accepted {
            transfer.finish(.failure(ConsulError(.shutDown, "\(transfer.request.summary): the Consul client was shut down")))
        }
    }

    /// Asks the loop thread to drop `transfer`'s easy handle (its task was cancelled).
    func remove(_ transfer: CurlTransfer) {
        shared.withLock { shared in
            guard shared.state == .running else { return }
            shared.operations.append(.remove(transfer))
            curl_multi_wakeup(multi)
        }
    }

    /// Stops the loop: transfers in flight fail with ``ConsulError/Code/shutDown`` and the
    /// thread ends. Does not wait for the thread. Idempotent.
    func stop() {
        shared.withLock { shared in
            switch shared.state {
            case .idle: shared.state = .stopped
            case .running:
                shared.state = .stopping
                curl_multi_wakeup(multi)
            case .stopping, .stopped: break
            }
        }
    }

    // MARK: The loop thread

    private func startThread() {
        let thread = Thread { [self] in run() }
        thread.name = threadName
        thread.start()
    }

    private func run() {
        guard let multi else { return }
        while true {
            let (operations, stopping) = shared.withLock { shared in
                defer { shared.operations.removeAll(keepingCapacity: true) }
                return (shared.operations, shared.state == .stopping)
            }
            for operation in operations {
                switch operation {
                case .add(let transfer): add(transfer, to: multi)
                case .remove(let transfer): drop(transfer, from: multi, result: nil)
                }
            }
            if stopping { break }

            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            collectCompletions(multi)
            // Sleeps until a socket is ready, libcurl's next timeout (curl_multi_poll
            // never sleeps past it), or a wake-up; an idle loop wakes once a minute.
            _ = curl_multi_poll(multi, nil, 0, 60_000, nil)
        }

        for transfer in Array(active.values) {
            drop(transfer, from: multi, result: .failure(ConsulError(
                .shutDown, "\(transfer.request.summary): the Consul client was shut down")))
        }
        // Operations handed in after the last drain (before .stopped) fail the same way.
        let late = shared.withLock { shared in
            shared.state = .stopped
            defer { shared.operations.removeAll() }
            return shared.operations
        }
        for case .add(let transfer) in late {
            transfer.finish(.failure(ConsulError(.shutDown, "\(transfer.request.summary): the Consul client was shut down")))
        }
        curl_multi_cleanup(multi)
    }

    private func add(_ transfer: CurlTransfer, to multi: UnsafeMutableRawPointer) {
        guard !transfer.isAbandoned else { return }
        do throws(ConsulError) {
            let easy = try CurlEasy.make(for: transfer)
            let code = curl_multi_add_handle(multi, easy)
            guard code == CURLM_OK else {
                CurlEasy.release(transfer)
                throw ConsulError(.transport, "\(transfer.request.summary): libcurl refused the transfer (\(String(cString: curl_multi_strerror(code))))")
            }
            active[easy] = transfer
        } catch {
            transfer.finish(.failure(error))
        }
    }

    /// Removes `transfer` from the multi handle, frees its handle, and finishes it with
    /// `result` (nil: it was cancelled and already resumed).
    private func drop(_ transfer: CurlTransfer, from multi: UnsafeMutableRawPointer, result: Result<HTTPResponse, ConsulError>?) {
        guard let easy = transfer.easy, active.removeValue(forKey: easy) != nil else { return }
        curl_multi_remove_handle(multi, easy)
        CurlEasy.release(transfer)
        if let result { transfer.finish(result) }
    }

    private func collectCompletions(_ multi: UnsafeMutableRawPointer) {
        var remaining: Int32 = 0
        while let message = curl_multi_info_read(multi, &remaining) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                  let transfer = active[easy] else { continue }
            let code = message.pointee.data.result
            var connects = 0
            _ = cort_curl_easy_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &connects)
            connectionsOpened.add(connects, ordering: .relaxed)
            let result = CurlEasy.result(of: transfer, code: code)
            transfersCompleted.add(1, ordering: .relaxed)
            drop(transfer, from: multi, result: result)
        }
    }
}
