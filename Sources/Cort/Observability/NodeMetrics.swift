import CoreMetrics

/// The metrics a node records itself, of what its interceptors never see:
/// calls refused or dropped before they ran, frames it could not read, and
/// its load per hosted service. Made once, when the node starts (and per
/// service when it is hosted), so recording costs no look-up.
final class NodeMetrics: Sendable {
    /// Why the node refused a call as `overloaded` (the `reason` dimension).
    enum Refusal: String, Sendable {
        /// The service's queue was full.
        case queueFull = "queue_full"
        /// A fairer caller's call took its place in the full queue.
        case pushedOut = "pushed_out"
        /// The node remembers as many callers as it may, all with calls.
        case tooManyCallers = "too_many_callers"
        /// Its caller does not read its answers (refused with an answer).
        case notReading = "not_reading"
        /// Its caller does not read its answers (dropped unanswered).
        case shed
    }

    /// What was wrong with a frame the node dropped or answered with an error (the `kind` dimension).
    enum BadFrame: String, Sendable {
        /// Not one envelope frame after the routing id.
        case frameCount = "frame_count"
        /// An envelope that does not decode (garbage, wrong version, over the size limit).
        case malformedEnvelope = "malformed_envelope"
        /// With CURVE, a frame without a caller key.
        case unauthenticated
    }

    /// One hosted service's (or the actor instances') load and refusals.
    struct Lane: Sendable {
        let queueDepth: Meter
        let busyReplicas: Meter
        let queueFull: Counter
        let pushedOut: Counter
    }

    private let factory: any MetricsFactory
    let abandoned: Counter
    let denied: Counter
    private let nodeRefusals: [Refusal: Counter]
    private let badFrames: [BadFrame: Counter]

    /// The node's metrics on `factory` (nil: the bootstrapped one), or nil
    /// when there is none to record to.
    init?(factory explicit: (any MetricsFactory)?) {
        guard let factory = CallMetrics.factory(explicit) else { return nil }
        self.factory = factory
        abandoned = Counter(label: CallMetrics.serverAbandoned, factory: factory)
        denied = Counter(label: CallMetrics.serverDenied, factory: factory)
        var refusals: [Refusal: Counter] = [:]
        for reason in [Refusal.tooManyCallers, .notReading, .shed] {
            refusals[reason] = Counter(label: CallMetrics.serverRefused, dimensions: [
                (CallMetrics.service, CallMetrics.node), (CallMetrics.reason, reason.rawValue)], factory: factory)
        }
        nodeRefusals = refusals
        var badFrames: [BadFrame: Counter] = [:]
        for kind in [BadFrame.frameCount, .malformedEnvelope, .unauthenticated] {
            badFrames[kind] = Counter(label: CallMetrics.serverBadFrames, dimensions: [(CallMetrics.kind, kind.rawValue)],
                                      factory: factory)
        }
        self.badFrames = badFrames
    }

    /// The metrics of the lane of `service` (a hosted service, or ``CallMetrics/instances``).
    func lane(_ service: String) -> Lane {
        let dimensions = [(CallMetrics.service, service)]
        return Lane(
            queueDepth: Meter(label: CallMetrics.serverQueueDepth, dimensions: dimensions, factory: factory),
            busyReplicas: Meter(label: CallMetrics.serverBusyReplicas, dimensions: dimensions, factory: factory),
            queueFull: Counter(label: CallMetrics.serverRefused, dimensions: dimensions + [
                (CallMetrics.reason, Refusal.queueFull.rawValue)], factory: factory),
            pushedOut: Counter(label: CallMetrics.serverRefused, dimensions: dimensions + [
                (CallMetrics.reason, Refusal.pushedOut.rawValue)], factory: factory))
    }

    /// Counts a refusal made before the call's service was known.
    func refused(_ reason: Refusal) {
        nodeRefusals[reason]?.increment()
    }

    /// Counts a bad frame.
    func badFrame(_ kind: BadFrame) {
        badFrames[kind]?.increment()
    }
}
