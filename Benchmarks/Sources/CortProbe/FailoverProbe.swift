import BenchmarkSupport
import Cort
import Foundation

/// `cort-probe failover`: one node of 3 killed (SIGKILL), then, on a fresh
/// cluster, one frozen (SIGSTOP) and thawed (SIGCONT), each under a steady
/// closed-loop load; prints the figures as lines to paste into a note.
struct FailoverProbe {
    static let usage = """
          cort-probe failover [--interval MS] [--liveness N] [--window N] [--not-idempotent]
            heartbeat interval (default 100 ms) and liveness (default 3), calls in flight
            (default 16); --not-idempotent makes the calls unmarked, so that those caught
            on the killed node end as outcomeUnknown instead of moving
        """

    var heartbeat = HeartbeatConfiguration(interval: .milliseconds(100), liveness: 3)
    var window = 16
    var idempotent = true
    /// How long the load runs before the failure, and after it.
    let steady = Duration.seconds(1)

    /// Reads the options after `failover`; nil for anything it does not understand.
    init?(arguments: ArraySlice<String>) {
        var rest = arguments
        var interval = 100
        var liveness = 3
        while let option = rest.popFirst() {
            switch option {
            case "--interval":
                guard let value = rest.popFirst().flatMap(Int.init), value >= 1 else { return nil }
                interval = value
            case "--liveness":
                guard let value = rest.popFirst().flatMap(Int.init), value >= 2 else { return nil }
                liveness = value
            case "--window":
                guard let value = rest.popFirst().flatMap(Int.init), value >= 1 else { return nil }
                window = value
            case "--not-idempotent":
                idempotent = false
            default:
                return nil
            }
        }
        heartbeat = HeartbeatConfiguration(interval: .milliseconds(interval), liveness: liveness)
    }

    func run() async throws {
        let calls = idempotent ? "idempotent calls (CallOptions(idempotent: true))" : "calls not marked idempotent"
        print("failover: 3 cort-bench-node processes, \(window) in flight, Echo.echoNamingNode(_:) with a "
              + "\(PingPongDefaults.payloadSize)-byte payload, \(calls); heartbeat every \(ms(heartbeat.interval)), "
              + "dead after \(heartbeat.liveness) silent intervals (\(ms(heartbeat.deadAfter)))")
        try await killScenario()
        try await freezeScenario()
    }

    private func killScenario() async throws {
        let (figures, victim, survivors) = try await withCluster { cluster in
            let victim = cluster.nodes[1]
            let survivors = Set(cluster.nodes.filter { $0 !== victim }.map(\.processIdentifier))
            let load = EchoLoad(echo: cluster.echo, method: .echoNamingNode(idempotent: idempotent))
            let running = Task { await load.run(window: window) }
            try await Task.sleep(for: steady)
            let killed = load.now()
            victim.signal(SIGKILL)
            try await Task.sleep(for: steady)
            load.stop()
            return (FailoverFigures(records: await running.value, event: killed), victim, survivors)
        }

        let label = "kill -9"
        rate(figures, label: label)
        let caught = figures.inFlightAtEvent
        print("\(label): \(caught.count) calls in flight at the kill; all ended \(ms(figures.settledAfter)) after it "
              + "(the slowest took \(ms(caught.map(\.latency).max())))")
        print("\(label): first call answered by a survivor \(ms(figures.firstSuccess(on: survivors))) after the kill; "
              + "last answer from the killed node \(lastAnswer(figures.lastSuccess(on: victim.processIdentifier)))")
        recovery(figures, label: label)
        failures(figures, label: label)
    }

    private func freezeScenario() async throws {
        let (records, frozen, stopped, continued) = try await withCluster { cluster in
            let frozen = cluster.nodes[1]
            let load = EchoLoad(echo: cluster.echo, method: .echoNamingNode(idempotent: idempotent))
            let running = Task { await load.run(window: window) }
            try await Task.sleep(for: steady)
            let stopped = load.now()
            frozen.signal(SIGSTOP)
            try await Task.sleep(for: max(steady, heartbeat.deadAfter * 2))
            let continued = load.now()
            frozen.signal(SIGCONT)
            try await Task.sleep(for: steady)
            load.stop()
            return (await running.value, frozen, stopped, continued)
        }
        let figures = FailoverFigures(records: records, event: stopped)
        let thawed = FailoverFigures(records: records, event: continued)

        let label = "SIGSTOP"
        rate(figures, label: label)
        // Normal calls take a few milliseconds at most; half an interval is far above that.
        let threshold = heartbeat.interval / 2
        let madeBefore = stopped + heartbeat.deadAfter
        let held = figures.held(longerThan: threshold, madeBefore: madeBefore)
        print("\(label): \(held.count) calls held ≥ \(ms(threshold)) by the frozen node; the last of them ended (moved) "
              + "\(ms(figures.releasedAfter(heldLongerThan: threshold, madeBefore: madeBefore))) after the freeze "
              + "(detection time; dead after \(ms(heartbeat.deadAfter)) of silence)")
        recovery(figures, label: label)
        print("\(label): SIGCONT at \(signed(continued - stopped)): first answer from the thawed node "
              + "\(ms(thawed.firstSuccess(on: [frozen.processIdentifier]))) after SIGCONT")
        failures(figures, label: label)
    }

    /// Runs `body` on 3 fresh, warmed-up nodes and stops them afterwards, whether it threw or not.
    private func withCluster<R: Sendable>(_ body: (EchoCluster) async throws -> R) async throws -> R {
        let cluster = try await EchoCluster.start(nodes: 3, heartbeat: heartbeat)
        do {
            let warmUp = EchoLoad(echo: cluster.echo, method: .echoNamingNode(idempotent: true))
            if let failure = await warmUp.run(window: window, calls: 2_000).first(where: { !$0.succeeded }) {
                throw BenchmarkFailure("a warm-up call failed: \(failure.outcome)")
            }
            let result = try await body(cluster)
            await cluster.stop()
            return result
        } catch {
            await cluster.stop()
            throw error
        }
    }

    private func rate(_ figures: FailoverFigures, label: String) {
        let perBucket = figures.rateBefore
        let perSecond = perBucket / (FailoverFigures.bucket / .seconds(1))
        print("\(label): rate before \(Int(perSecond.rounded())) calls/s (\(Int(perBucket.rounded())) per 10 ms over "
              + "\(ms(figures.before)); \(percent(figures.shareBelow())) of those buckets were below 90 % with no failure)")
    }

    private func recovery(_ figures: FailoverFigures, label: String) {
        let back = figures.recovery().map { "\(ms($0)) after it (3 buckets in a row ≥ 90 %)" } ?? "not within 2 s"
        let counts = figures.counts(from: -2, count: 22).map(String.init).joined(separator: " ")
        print("\(label): call rate back to ≥ 90 % of before \(back); calls per 10 ms from -20 ms: \(counts)")
    }

    private func failures(_ figures: FailoverFigures, label: String) {
        let failures = figures.failures
        let total = failures.reduce(0) { $0 + $1.count }
        print("\(label): failed calls: \(total) of \(figures.records.count)")
        for (reason, count) in failures.prefix(5) {
            print("\(label):   \(count) × \(reason)")
        }
    }

    private func ms(_ duration: Duration?) -> String {
        guard let duration else { return "(none)" }
        return String(format: "%.1f ms", duration / .milliseconds(1))
    }

    private func signed(_ duration: Duration?) -> String {
        guard let duration else { return "(none)" }
        return String(format: "%+.1f ms", duration / .milliseconds(1))
    }

    /// A time from the kill, or that the killed node sent nothing after it.
    private func lastAnswer(_ duration: Duration?) -> String {
        guard let duration else { return "(none)" }
        return duration > .zero ? signed(duration) + " after the kill (replies already sent)" : "before the kill"
    }

    private func percent(_ share: Double) -> String {
        String(format: "%.0f %%", share * 100)
    }
}
