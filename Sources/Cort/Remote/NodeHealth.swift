/// What a caller knows of one node's health: the Freelance pattern's
/// heartbeat state machine. It does no I/O: ``RemoteService`` feeds it what
/// happened (a frame arrived, a ping could not be routed, time passed) and
/// does what it answers (ping, settle the calls of a node that died).
///
/// ```
/// connecting ──any frame──▶ live ──silent 1 interval──▶ suspect ──silent `liveness` intervals──▶ dead
///      ▲                     ▲ ◀──────────any frame────────┘                                     │
///      │                     └──────────────────────────any frame────────────────────────────────┘
///   a send that libzmq cannot route (the connection is gone) ──▶ dead
/// ```
///
/// A node that is *connecting* is also *joining* for a short grace after it
/// was first connected to (``HeartbeatConfiguration/connectGrace``): it takes
/// no calls yet, but it is expected to answer soon, so calls of a burst may
/// wait for it (``JoiningShare``). It stops joining when it answers, when
/// libzmq reports that an attempt to connect to it failed, or when the grace
/// ends.
///
/// Times are offsets on the system's ``RuntimeClock``.
struct NodeHealth: Sendable, Equatable {
    enum State: Sendable, Equatable, CustomStringConvertible {
        /// Not heard from yet: the connection may not be up.
        case connecting
        /// Heard from within the last interval.
        case live
        /// Silent for a whole interval: no new calls while a live node has room.
        case suspect
        /// Silent for `liveness` intervals, or its connection is gone: its calls were settled.
        case dead

        var description: String {
            switch self {
            case .connecting: "connecting"
            case .live: "live"
            case .suspect: "suspect"
            case .dead: "dead"
            }
        }
    }

    /// A change the caller must act on.
    enum Change: Sendable, Equatable {
        /// The node answered for the first time: it may take calls.
        case connected
        /// The node answers again after it was declared dead: it may take calls.
        case revived
        /// The node failed: the calls in flight on it will not be answered.
        case died(reason: String)
    }

    private(set) var state: State = .connecting
    /// When the node was last heard from (or first known).
    private(set) var lastHeard: Duration
    /// When the next ping is due.
    private(set) var nextPing: Duration
    /// When the node died or its connection was last renewed.
    private var deadSince: Duration?
    /// Calls the node said it can still take (its last pong), nil until it said.
    private(set) var freeSlots: Int?
    /// The node's incarnation (its last pong), nil until it said.
    private(set) var incarnation: UInt64?
    /// When the node's grace to answer for the first time ends, while it is
    /// joining; nil once it answered, failed to connect, or the grace ended.
    private(set) var joiningUntil: Duration?
    /// How much of the node's silence since it was last heard was cut out
    /// for this caller's I/O thread waiting for a CPU (``ioThreadWaited(_:at:configuration:)``).
    private(set) var forgivenForIOThread: Duration = .zero
    /// That silence has already been reported as spared.
    private var sparedReported = false

    /// A node first connected to at `now`, joining for `grace` (none by default).
    init(now: Duration, joiningFor grace: Duration = .zero) {
        lastHeard = now
        nextPing = now
        joiningUntil = grace > .zero ? now + grace : nil
    }

    /// Whether new calls may go to the node: live, or suspect as a last resort.
    var takesCalls: Bool { state == .live || state == .suspect }

    /// Whether the node is joining at `now`: never heard from, within its
    /// grace, and no attempt to connect to it failed. It takes no calls, but
    /// calls may wait for it.
    func isJoining(at now: Duration) -> Bool {
        guard state == .connecting, let joiningUntil else { return false }
        return now < joiningUntil
    }

    /// Any frame from the node arrived.
    mutating func heard(at now: Duration, configuration: HeartbeatConfiguration) -> Change? {
        lastHeard = now
        forgivenForIOThread = .zero
        sparedReported = false
        deadSince = nil
        joiningUntil = nil
        nextPing = now + configuration.interval
        let before = state
        state = .live
        switch before {
        case .live, .suspect: return nil
        case .connecting: return .connected
        case .dead: return .revived
        }
    }

    /// A pong arrived: besides being heard from, the node said how much room
    /// it has and which incarnation it is. A new incarnation means the node
    /// restarted and the calls in flight on the old one are lost.
    mutating func pong(freeSlots: Int, incarnation: UInt64, at now: Duration,
                       configuration: HeartbeatConfiguration) -> [Change] {
        self.freeSlots = freeSlots
        var changes: [Change] = []
        if let known = self.incarnation, known != incarnation {
            changes.append(.died(reason: "it restarted (a new incarnation answered)"))
        }
        self.incarnation = incarnation
        if let change = heard(at: now, configuration: configuration) { changes.append(change) }
        return changes
    }

    /// A ping was handed to the connection.
    mutating func pinged(at now: Duration, configuration: HeartbeatConfiguration) {
        nextPing = now + configuration.interval
    }

    /// libzmq reported that an attempt to connect to the node failed (it
    /// tries again): the node is not about to answer, so no call waits for
    /// it any more. Returns whether it was joining until now.
    mutating func connectFailed() -> Bool {
        guard state == .connecting, joiningUntil != nil else { return false }
        joiningUntil = nil
        return true
    }

    /// A send found no connection under the node's routing id: libzmq
    /// dropped it (after a disconnect, or a failed handshake).
    mutating func unroutable(at now: Duration, configuration: HeartbeatConfiguration) -> Change? {
        nextPing = now + configuration.interval
        switch state {
        case .connecting, .dead:
            return nil
        case .live, .suspect:
            state = .dead
            deadSince = now
            return .died(reason: "its connection is gone")
        }
    }

    /// This caller's heartbeat work, due at `due`, runs only at `now`: its
    /// process was stopped, or its threads were all taken. It sent no ping
    /// in between, so the node's silence then is not held against it: from
    /// when the node itself had something due (`due`, or its own next
    /// wakeup if later) to `now` is cut out of its silence. The node is
    /// judged as it would have been on time, is pinged at once, and keeps
    /// its calls if it answers (Cassandra's failure detector likewise
    /// ignores a local pause). A node that is really gone is declared dead
    /// as late as the pause, not never.
    mutating func heartbeatRanLate(due: Duration, at now: Duration, configuration: HeartbeatConfiguration) {
        let pause = now - max(due, nextWakeup(configuration: configuration))
        cutOut(pause, at: now)
    }

    /// Moves when the node was last heard from, and when it died, `span`
    /// later (never past `now`): that much of its silence is not its own.
    private mutating func cutOut(_ span: Duration, at now: Duration) {
        guard span > .zero else { return }
        lastHeard = min(lastHeard + span, now)
        if let deadSince { self.deadSince = min(deadSince + span, now) }
    }

    /// This caller's I/O thread waited `waited` for a CPU since the last
    /// tick, runnable but not running: frames from the node may have waited
    /// as long in this machine's kernel, and pings to it in libzmq's queue.
    /// So much of the node's silence is this caller's delay and is cut out,
    /// as a pause of the caller is (``heartbeatRanLate(due:at:configuration:)``).
    /// A node that is really gone is declared dead as much later.
    ///
    /// Returns true once a silence, the first time that what was cut out of
    /// it is what keeps a live node from being declared dead: worth a line
    /// in the log.
    mutating func ioThreadWaited(_ waited: Duration, at now: Duration, configuration: HeartbeatConfiguration) -> Bool {
        guard waited > .zero else { return false }
        let before = lastHeard
        cutOut(waited, at: now)
        forgivenForIOThread += lastHeard - before
        guard !sparedReported, state == .live || state == .suspect,
              now - lastHeard + forgivenForIOThread >= configuration.deadAfter else { return false }
        sparedReported = true
        return true
    }

    /// What ``tick(at:configuration:)`` asks for.
    struct Actions: Sendable, Equatable {
        /// Send the node a ping.
        var ping = false
        /// Drop the connection and make a new one: the messages queued on
        /// the old one (pings, and requests that never left) are discarded,
        /// so a node that comes back never sees stale requests.
        var reconnect = false
        /// A change of state to act on.
        var change: Change?
        /// The node's grace to answer for the first time ended: calls that
        /// waited for it look for a node again.
        var stoppedJoining = false
    }

    /// Time passed: whether to ping the node or reconnect to it now, and any change of state.
    mutating func tick(at now: Duration, configuration: HeartbeatConfiguration) -> Actions {
        var actions = Actions()
        if let joiningUntil, now >= joiningUntil {
            self.joiningUntil = nil
            actions.stoppedJoining = true
        }
        let silence = now - lastHeard
        switch state {
        case .live where silence >= configuration.interval:
            state = .suspect
        case .suspect where silence >= configuration.deadAfter:
            state = .dead
            deadSince = now
            actions.change = .died(reason: "it was silent for \(silence)")
            actions.reconnect = true
        case .connecting, .dead:
            // Pings queue on a connection that is not up; renewing it every
            // `liveness` intervals keeps that queue short.
            if now - (deadSince ?? lastHeard) >= configuration.deadAfter {
                deadSince = now
                actions.reconnect = true
            }
        default:
            break
        }
        // A node heard from within the interval needs no ping: its traffic is its heartbeat.
        if actions.reconnect || now >= nextPing {
            actions.ping = true
        }
        return actions
    }

    /// When ``tick(at:configuration:)`` has something to do next.
    func nextWakeup(configuration: HeartbeatConfiguration) -> Duration {
        switch state {
        case .connecting:
            min(nextPing, (deadSince ?? lastHeard) + configuration.deadAfter, joiningUntil ?? nextPing)
        case .dead:
            min(nextPing, (deadSince ?? lastHeard) + configuration.deadAfter)
        case .live:
            min(nextPing, lastHeard + configuration.interval)
        case .suspect:
            min(nextPing, lastHeard + configuration.deadAfter)
        }
    }

    /// The node was sent a call: one fewer free slot, until it says again.
    mutating func tookCall() {
        if let slots = freeSlots, slots > 0 { freeSlots = slots - 1 }
    }

    /// A call on the node ended: its slot is free again.
    mutating func releasedCall() {
        if let slots = freeSlots { freeSlots = slots + 1 }
    }

    /// The node answered `overloaded`: it has no room now.
    mutating func full() {
        freeSlots = 0
    }
}
