/// How a caller watches the nodes of the services it calls.
///
/// Every `interval`, a ``CortSystem`` pings each node it has not heard from
/// during that interval (any frame from a node counts as a sign of life). A
/// node silent for one interval is *suspect*: it gets no new calls while a
/// live node has room. A node silent for `liveness` intervals is *dead*: the
/// calls in flight on it are settled (moved to another node when that is
/// safe, else failed with ``RemoteCallError/Code/outcomeUnknown``), and it
/// gets calls again as soon as it answers.
///
/// ```swift
/// var configuration = CortSystem.Configuration(name: "caller", discovery: discovery)
/// configuration.heartbeat = HeartbeatConfiguration(interval: .milliseconds(250), liveness: 4)
/// ```
public struct HeartbeatConfiguration: Sendable, Hashable {
    /// How often a quiet node is pinged.
    public var interval: Duration
    /// How many intervals of silence declare a node dead (at least 2).
    public var liveness: Int

    /// Creates a configuration; `liveness` below 2 is raised to 2, and an
    /// interval below a millisecond to a millisecond.
    public init(interval: Duration = .seconds(1), liveness: Int = 3) {
        self.interval = max(interval, .milliseconds(1))
        self.liveness = max(liveness, 2)
    }

    /// The silence after which a node is declared dead.
    public var deadAfter: Duration { interval * liveness }
}
