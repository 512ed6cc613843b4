internal import CZeroMQ

/// The one funnel every libzmq call goes through, in the style of swift-nio's
/// `NIOPosix/System.swift`: `EINTR` is retried here (a signal is never an
/// error for us), `EAGAIN` is surfaced as "would block" where the caller can
/// handle it, and everything else becomes a ``ZeroMQError`` built from
/// `zmq_errno()` right after the failing call, before anything can clobber it.
enum ZeroMQCall {
    /// Runs an `int`-returning call; `-1` is failure.
    @inline(__always)
    @discardableResult
    static func int(_ call: StaticString, _ body: () -> Int32) throws(ZeroMQError) -> Int32 {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = zmq_errno()
            if code == EINTR { continue }
            throw ZeroMQError(errno: code, call: call)
        }
    }

    /// Runs an `int`-returning call that may fail with `EAGAIN`: returns `nil` then.
    @inline(__always)
    static func nonblocking(_ call: StaticString, _ body: () -> Int32) throws(ZeroMQError) -> Int32? {
        while true {
            let result = body()
            if result != -1 { return result }
            let code = zmq_errno()
            if code == EINTR { continue }
            if code == EAGAIN { return nil }
            throw ZeroMQError(errno: code, call: call)
        }
    }

    /// Runs a pointer-returning call; `NULL` is failure.
    @inline(__always)
    static func pointer(_ call: StaticString, _ body: () -> UnsafeMutableRawPointer?) throws(ZeroMQError) -> UnsafeMutableRawPointer {
        while true {
            if let result = body() { return result }
            let code = zmq_errno()
            if code == EINTR { continue }
            throw ZeroMQError(errno: code, call: call)
        }
    }
}
