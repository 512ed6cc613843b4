/// The bounds a node keeps against callers that flood it, stop reading, or
/// leave calls behind; every table and queue a caller can grow has one.
///
/// The defaults suit most services; raise them for methods that run long or
/// answer with large values, lower them on small machines.
///
/// ```swift
/// var configuration = CortSystem.Configuration(name: "node-a", discovery: discovery, endpoint: "tcp://0.0.0.0:5555")
/// configuration.nodeLimits.maxCallDuration = .seconds(1800)   // for a report that takes long
/// ```
///
/// Per hosted service, calls wait in a queue of ``CortSystem/Configuration/queueCapacity``
/// calls, taken round robin by caller; when it is full, a caller with fewer
/// waiting calls pushes out the newest call of the caller with the most
/// (answered ``RemoteCallError/Code/overloaded``: it never ran), so one
/// caller's flood costs the others at most their turn.
public struct NodeLimits: Sendable, Hashable {
    /// The longest a node lets a call run: a request asking for more time
    /// gets this much (default 5 minutes). Bounds how long a caller that
    /// sets no deadline, or vanishes, can hold a replica.
    public var maxCallDuration: Duration
    /// How many callers a node remembers at once (default 4096): those with
    /// calls accepted, and the most recent others (to tell them when it
    /// drains). When every remembered caller has calls, a new caller's calls
    /// are refused as overloaded.
    public var maxCallers: Int
    /// Answer bytes that may wait in the node for one caller that does not
    /// read them (default 16 MiB). Past it, its answers are dropped and
    /// counted as abandoned, its waiting calls are dropped, and its new calls
    /// are refused as overloaded until it reads again.
    public var answerBytesPerCaller: Int
    /// Answer bytes that may wait in the node over all callers (default 256 MiB).
    public var answerBytes: Int
    /// The kernel's send buffer for each caller's connection (`SO_SNDBUF`,
    /// default 256 KiB; nil lets the kernel grow it, on Linux to
    /// `net.ipv4.tcp_wmem`'s maximum, 4 MiB by default).
    ///
    /// Answers that a caller does not read fill this buffer, then the
    /// caller's own receive buffer, before the node can see it: until then
    /// it runs that caller's calls as if they were read. A small buffer
    /// finds such a caller sooner (with 256 KiB the flood probe's victim
    /// saw its p99 rise 3.2× instead of 5.5×), at a cost in bandwidth to
    /// far callers: at most this many bytes per round trip per connection,
    /// 256 MB/s at a 1 ms round trip, 5 MB/s at 50 ms. Raise it, or set
    /// nil, for a node that sends large answers across long links.
    public var socketSendBuffer: Int?
    /// Bytes of requests that may wait in one service's queue (default 64 MiB).
    public var queuedRequestBytes: Int
    /// How many calls addressed to actor instances (not to a hosted service)
    /// run at once on the node (default 64); further ones wait in a queue of
    /// ``CortSystem/Configuration/queueCapacity``, like a service's calls.
    public var instanceCallsInFlight: Int
    /// How many distinct targets the node remembers as checked (default 4096).
    public var knownTargets: Int

    /// Creates limits; values below 1 are raised to 1 (a socket send buffer to 4 KiB).
    public init(
        maxCallDuration: Duration = .seconds(300),
        maxCallers: Int = 4096,
        answerBytesPerCaller: Int = 16 << 20,
        answerBytes: Int = 256 << 20,
        socketSendBuffer: Int? = 256 << 10,
        queuedRequestBytes: Int = 64 << 20,
        instanceCallsInFlight: Int = 64,
        knownTargets: Int = 4096
    ) {
        self.maxCallDuration = max(maxCallDuration, .milliseconds(1))
        self.maxCallers = max(maxCallers, 1)
        self.answerBytesPerCaller = max(answerBytesPerCaller, 1)
        self.answerBytes = max(answerBytes, 1)
        self.socketSendBuffer = socketSendBuffer.map { min(max($0, 4096), Int(Int32.max)) }
        self.queuedRequestBytes = max(queuedRequestBytes, 1)
        self.instanceCallsInFlight = max(instanceCallsInFlight, 1)
        self.knownTargets = max(knownTargets, 1)
    }
}
