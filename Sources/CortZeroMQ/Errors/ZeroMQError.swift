internal import CZeroMQ

/// An error from libzmq or from the Swift layer over it.
///
/// Every failing C call goes through one funnel (`ZeroMQCall`) that turns
/// `zmq_errno()` into a `ZeroMQError`, so the `code` can be matched without
/// knowing errno values:
///
/// ```swift
/// do {
///     _ = try router.trySend(&message)
/// } catch let error as ZeroMQError where error.code == .hostUnreachable {
///     // The peer is gone; `message` is still ours.
/// }
/// ```
public struct ZeroMQError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, as a matchable value. New codes may be added.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case wouldBlock, hostUnreachable, terminated, invalid, notSupported
            case protocolNotSupported, addressInUse, addressNotAvailable, noSuchEndpoint
            case invalidState, tooManySockets, messageTooLarge, interrupted
            case wrongThread, notAttached, reactorShutDown, invalidKey, internalError
            case other
        }

        private let base: Base

        private init(_ base: Base) { self.base = base }

        /// The operation would block (`EAGAIN`): a full pipe on send, nothing queued on receive.
        public static let wouldBlock = Code(.wouldBlock)
        /// A ROUTER with `routerMandatory` has no connected peer with that routing id (`EHOSTUNREACH`).
        public static let hostUnreachable = Code(.hostUnreachable)
        /// The context was shut down (`ETERM`).
        public static let terminated = Code(.terminated)
        /// An argument libzmq rejected (`EINVAL`), such as a malformed endpoint or a write-only option read back.
        public static let invalid = Code(.invalid)
        /// The socket kind does not support the operation (`ENOTSUP`).
        public static let notSupported = Code(.notSupported)
        /// The endpoint's transport is unknown or not compiled in (`EPROTONOSUPPORT`).
        public static let protocolNotSupported = Code(.protocolNotSupported)
        /// The endpoint is already bound (`EADDRINUSE`).
        public static let addressInUse = Code(.addressInUse)
        /// The address is not local (`EADDRNOTAVAIL`).
        public static let addressNotAvailable = Code(.addressNotAvailable)
        /// No such endpoint (`ENOENT`, `ENODEV`), e.g. on `unbind` of an endpoint never bound.
        public static let noSuchEndpoint = Code(.noSuchEndpoint)
        /// The socket is in the wrong state for the operation (`EFSM`, e.g. REQ sending twice).
        public static let invalidState = Code(.invalidState)
        /// The context's socket limit or the process's descriptor limit was reached (`EMFILE`).
        public static let tooManySockets = Code(.tooManySockets)
        /// A message is too large (`EMSGSIZE`).
        public static let messageTooLarge = Code(.messageTooLarge)
        /// A blocking call was interrupted by a signal and cannot be retried (`EINTR`).
        public static let interrupted = Code(.interrupted)
        /// An async socket operation ran off the socket's reactor thread.
        public static let wrongThread = Code(.wrongThread)
        /// An async socket operation on a socket created without a reactor.
        public static let notAttached = Code(.notAttached)
        /// The reactor was shut down while (or before) waiting for the socket.
        public static let reactorShutDown = Code(.reactorShutDown)
        /// A CURVE key that is neither 40 characters of Z85 nor 32 raw bytes.
        public static let invalidKey = Code(.invalidKey)
        /// libzmq broke one of its documented guarantees (a bug, not an input error).
        public static let internalError = Code(.internalError)
        /// Any other errno; see ``ZeroMQError/errno``.
        public static let other = Code(.other)

        /// The code matching a libzmq/POSIX errno value.
        init(errno value: Int32) {
            switch value {
            case EAGAIN: self = .wouldBlock
            case EHOSTUNREACH: self = .hostUnreachable
            case ETERM: self = .terminated
            case EINVAL: self = .invalid
            case ENOTSUP: self = .notSupported
            case EPROTONOSUPPORT: self = .protocolNotSupported
            case EADDRINUSE: self = .addressInUse
            case EADDRNOTAVAIL: self = .addressNotAvailable
            case ENOENT, ENODEV: self = .noSuchEndpoint
            case EFSM: self = .invalidState
            case EMFILE: self = .tooManySockets
            case EMSGSIZE: self = .messageTooLarge
            case EINTR: self = .interrupted
            default: self = .other
            }
        }

        /// A short name for the code, e.g. `hostUnreachable`.
        public var description: String { String(describing: base) }
    }

    /// What went wrong.
    public var code: Code
    /// A human-readable explanation (libzmq's `zmq_strerror` for C failures).
    public var message: String
    /// The underlying errno when the error came from libzmq, else `nil`.
    public var errno: Int32?

    /// An error with an explicit code and message (no errno).
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
        self.errno = nil
    }

    /// The error for a failed libzmq call, read from `zmq_strerror`.
    init(errno value: Int32, call: StaticString) {
        self.code = Code(errno: value)
        self.message = "\(call): \(String(cString: zmq_strerror(value)))"
        self.errno = value
    }

    /// `ZeroMQError(code): message`.
    public var description: String { "ZeroMQError(\(code)): \(message)" }
}
