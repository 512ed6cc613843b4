import ArgumentParser
import Cort
import Foundation
import Synchronization

/// `cort bench SERVICE METHOD ARGS`: calls in a loop for a while, then calls/s and latency percentiles.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Call a method over and over for a while; print calls/s and latency percentiles.",
        discussion: """
            METHOD and ARGS are as for `cort call`. --concurrency callers each make one \
            call after another until --duration is over (with --rate, at most that many \
            calls a second over all callers); the calls go as typed calls go \
            (discovery, failover, CURVE from the environment). A progress line goes to \
            standard error every second. The summary counts calls that returned and \
            calls that failed (by code), and gives the latency of the calls that \
            returned: min, mean, p50, p90, p99, max. --json prints {"calls", "succeeded", \
            "failed", "seconds", "callsPerSecond", "latencyMicroseconds": {"min", "mean", \
            "p50", "p90", "p99", "max"}, "errors": {code: count}}.

            Exit codes: 0 at least one call returned; 1 none did, or the method or \
            service could not be found; 64 a usage error.
            """
    )

    @OptionGroup var call: CallArguments

    @Option(name: [.customShort("c"), .long], help: "How many calls are in flight at once.")
    var concurrency = 16

    @Option(name: [.customShort("d"), .long],
            help: ArgumentHelp("How long to call (10s, 1m).", valueName: "duration"))
    var duration = TimeoutArgument("10s", .seconds(10))

    @Option(help: ArgumentHelp(
        "At most this many calls a second over all callers (each caller keeps its share of the pace); "
            + "without it, as fast as the calls return.", valueName: "calls"))
    var rate: Double?

    @Flag(help: "Print the summary as one line of JSON.")
    var json = false

    func validate() throws {
        guard (1...10_000).contains(concurrency) else {
            throw ValidationError("--concurrency is between 1 and 10000, got \(concurrency)")
        }
        if let rate, !(rate > 0 && rate.isFinite) {
            throw ValidationError("--rate is a positive number of calls a second, got \(rate)")
        }
    }

    /// The calls so far, for the progress line.
    final class Counts: Sendable {
        let returned = Atomic<Int>(0)
        let failed = Atomic<Int>(0)
    }

    /// What one caller saw.
    struct Tally: Sendable {
        var latencies: [Duration] = []
        var errors: [String: Int] = [:]
    }

    func run() async throws {
        try await reportingFailures {
            let command = "bench"
            let encoded = try CommandMethod.arguments(call.arguments, command: command)
            let target = try await CommandMethod.resolve(call.method, of: call.service, command: command,
                                                         timeout: call.timeout.duration)
            let system = try target.startSystem()
            let options = CallOptions(timeout: call.timeout.duration, metadata: call.metadataMap)
            let clock = ContinuousClock()
            let started = clock.now
            let end = started + duration.duration
            let counts = Counts()
            let (service, method, idempotent) = (call.service, target.method, target.method.isIdempotent)
            // Each caller's interval between sends under --rate: its share of the pace.
            let interval = rate.map { Duration.seconds(Double(concurrency) / $0) }
            let tallies = await withTaskGroup(of: Tally?.self) { group in
                group.addTask {
                    await Self.reportProgress(counts, started: started, end: end)
                    return nil
                }
                for caller in 0..<concurrency {
                    group.addTask {
                        var tally = Tally()
                        await withCallOptions(timeout: options.timeout, metadata: options.metadata) {
                            // Under --rate, the callers' sends are spread over one interval.
                            var due = interval.map { started + $0 * (Double(caller) / Double(concurrency)) }
                            while clock.now < end {
                                if let next = due, let interval {
                                    if next >= end {
                                        // The run lasts its duration: calls/s is over all of it.
                                        try? await Task.sleep(until: end, clock: clock)
                                        break
                                    }
                                    try? await Task.sleep(until: next, clock: clock)
                                    due = next + interval
                                }
                                let sent = clock.now
                                do {
                                    _ = try await system.call(service: service, target: method.target,
                                                              method: method.name, arguments: encoded,
                                                              idempotent: idempotent)
                                    tally.latencies.append(clock.now - sent)
                                    counts.returned.add(1, ordering: .relaxed)
                                } catch {
                                    let code = (error as? RemoteCallError).map { $0.code.name } ?? "\(type(of: error))"
                                    tally.errors[code, default: 0] += 1
                                    counts.failed.add(1, ordering: .relaxed)
                                }
                            }
                        }
                        return tally
                    }
                }
                var all: [Tally] = []
                for await tally in group {
                    if let tally { all.append(tally) }
                }
                return all
            }
            let elapsed = clock.now - started
            await system.shutdown()
            let summary = Summary(tallies, elapsed: elapsed)
            print(json ? try CommandOutput.json(summary) : summary.text)
            if summary.succeeded == 0 {
                throw CommandFailure(command: command, "no call returned"
                                     + (summary.errors.isEmpty ? "" : " (\(summary.errorText))"))
            }
        }
    }

    /// A line on standard error each second: calls so far, the last second's rate, failures.
    static func reportProgress(_ counts: Counts, started: ContinuousClock.Instant,
                               end: ContinuousClock.Instant) async {
        let clock = ContinuousClock()
        let total = started.duration(to: end)
        var previous = 0
        var next = started
        while true {
            next = next.advanced(by: .seconds(1))
            guard next < end else { return }
            try? await Task.sleep(until: next, clock: clock)
            let done = counts.returned.load(ordering: .relaxed)
            let failures = counts.failed.load(ordering: .relaxed)
            let seconds = started.duration(to: next).components.seconds
            let line = "[\(seconds)s/\(Summary.seconds(total))] \(done + failures) calls, "
                + "\(done - previous) calls/s, \(failures) failed\n"
            previous = done
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// The run's totals and percentiles.
    struct Summary: Encodable {
        var calls: Int
        var succeeded: Int
        var failed: Int
        var seconds: Double
        var callsPerSecond: Double
        var latencyMicroseconds: Latency?
        var errors: [String: Int]

        struct Latency: Encodable {
            var min: Int
            var mean: Int
            var p50: Int
            var p90: Int
            var p99: Int
            var max: Int
        }

        init(_ tallies: [Tally], elapsed: Duration) {
            let latencies = tallies.flatMap(\.latencies).map(Self.microseconds).sorted()
            errors = tallies.reduce(into: [:]) { all, tally in all.merge(tally.errors, uniquingKeysWith: +) }
            succeeded = latencies.count
            failed = errors.values.reduce(0, +)
            calls = succeeded + failed
            seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            callsPerSecond = seconds > 0 ? Double(succeeded) / seconds : 0
            if let first = latencies.first, let last = latencies.last {
                func percentile(_ p: Double) -> Int {
                    latencies[Swift.min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1)]
                }
                latencyMicroseconds = Latency(min: first, mean: latencies.reduce(0, +) / latencies.count,
                                              p50: percentile(0.5), p90: percentile(0.9), p99: percentile(0.99),
                                              max: last)
            }
        }

        static func microseconds(_ duration: Duration) -> Int {
            let (seconds, attoseconds) = duration.components
            return Int(seconds) * 1_000_000 + Int(attoseconds / 1_000_000_000_000)
        }

        static func seconds(_ duration: Duration) -> String {
            let (seconds, attoseconds) = duration.components
            return attoseconds == 0 ? "\(seconds)s" : String(format: "%.1fs", Double(seconds) + Double(attoseconds) / 1e18)
        }

        var errorText: String {
            errors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }

        var text: String {
            var lines = [
                "calls:     \(calls) (\(succeeded) returned, \(failed) failed) in \(String(format: "%.2f", seconds))s",
                "calls/s:   \(String(format: "%.1f", callsPerSecond))",
            ]
            if let latency = latencyMicroseconds {
                let format = NodesCommand.formatMicroseconds
                lines.append("latency:   min \(format(latency.min)), mean \(format(latency.mean)), "
                             + "p50 \(format(latency.p50)), p90 \(format(latency.p90)), "
                             + "p99 \(format(latency.p99)), max \(format(latency.max))")
            }
            if !errors.isEmpty { lines.append("errors:    \(errorText)") }
            return lines.joined(separator: "\n")
        }
    }
}
