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
/// Silence counts only while the caller could ping. A caller whose
/// heartbeat work runs late (its process was stopped, or every thread of
/// its pool was busy) pings first and judges each node as it would have when
/// the work was due: a pause of the caller never fails calls on nodes that
/// still answer; a node that is gone is found that much later.
///
/// A node a caller has just connected to takes calls from its first answer
/// on. Until then, for one interval (at most 250 ms) or until libzmq reports
/// that the connect failed, the nodes that answered first take only their
/// share of the calls at hand, so a burst made while the nodes connect is
/// spread over them; a call whose deadline leaves no room for that wait is
/// never held.
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

    /// How long a caller expects a node it just connected to to answer its
    /// first ping (one interval, at most 250 ms): until then, calls of a
    /// burst may wait for the node rather than crowd onto the nodes that
    /// answered first. A connect that takes longer is a slow or absent
    /// node, not one about to take calls (libzmq gives a connect attempt one
    /// interval, `ZMQ_CONNECT_TIMEOUT`).
    var connectGrace: Duration { min(interval, .milliseconds(250)) }
}
