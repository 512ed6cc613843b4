import Cort

/// How one call of an ``EchoLoad`` went, with its times since the load's origin.
public struct CallRecord: Sendable {
    /// How a call ended.
    public enum Outcome: Sendable, Hashable {
        /// Answered; by the node with this process id when the method names it.
        case answered(node: Int32?)
        /// Failed: the code (nil for an error that is not a `RemoteCallError`) and message.
        case failed(code: RemoteCallError.Code?, message: String)
    }

    /// When the call was made.
    public var start: Duration
    /// When it ended.
    public var end: Duration
    /// How it ended.
    public var outcome: Outcome

    /// Creates a record.
    public init(start: Duration, end: Duration, outcome: Outcome) {
        self.start = start
        self.end = end
        self.outcome = outcome
    }

    /// How long the call took.
    public var latency: Duration { end - start }

    /// Whether the call was answered.
    public var succeeded: Bool {
        if case .answered = outcome { return true }
        return false
    }

    /// The node that answered, when known.
    public var node: Int32? {
        if case .answered(let node) = outcome { return node }
        return nil
    }
}
