import Cort

/// One call the steady load made, and how it ended. Times are since the load's origin.
struct CallRecord: Sendable {
    /// What the call was.
    enum Kind: String, Sendable, CaseIterable {
        /// `read(key:)`: idempotent by the service's ``IdempotentMethods`` list.
        case read
        /// `append(key:)`: not idempotent; must never run twice.
        case append
        /// `append(key:)` with `CallOptions(idempotent: true)`: the caller says it may be repeated.
        case appendMarkedIdempotent

        /// The first letter of the key, so a log line tells which kind of call ran.
        var keyPrefix: String {
            switch self {
            case .read: "r"
            case .append: "a"
            case .appendMarkedIdempotent: "i"
            }
        }

        /// Whether failover may send it again.
        var isIdempotent: Bool { self != .append }
    }

    /// How a call ended.
    enum Outcome: Sendable {
        /// The node named in the receipt ran it.
        case succeeded(node: String)
        /// A `RemoteCallError`.
        case failed(code: RemoteCallError.Code, message: String)
        /// Anything else (a bug: the runtime should only throw `RemoteCallError`).
        case unexpected(String)
    }

    var kind: Kind
    var key: String
    var start: Duration
    var end: Duration
    var outcome: Outcome

    var node: String? {
        if case .succeeded(let node) = outcome { return node }
        return nil
    }

    var failureCode: RemoteCallError.Code? {
        if case .failed(let code, _) = outcome { return code }
        return nil
    }
}
