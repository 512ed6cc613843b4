import BenchmarkSupport
import Foundation

// What the interleaved A/B probes (`curve`, `instrumented`) share: one
// side's figures in one round, medians and ranges, and `perf stat` on a
// process.

/// Prints a line at once (unbuffered, even into a pipe), so that a run cut
/// short still shows its rounds.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// One side's figures in one round of an A/B probe: every call's time at one
/// in flight, the calls and time of the windowed phase, and the node's and
/// this process's counters over each phase.
struct RoundFigures {
    var latencies: [Duration] = []
    var single = ProcessCounters.zero
    var singleClient = ProcessCounters.zero
    var windowCalls = 0
    var windowElapsed = Duration.zero
    var windowed = ProcessCounters.zero
    var windowedClient = ProcessCounters.zero

    var p50: Double { quantile(0.5) }
    var p99: Double { quantile(0.99) }
    var throughput: Double { Double(windowCalls) / seconds(windowElapsed) }

    func quantile(_ q: Double) -> Double {
        let sorted = latencies.sorted()
        guard !sorted.isEmpty else { return .nan }
        return seconds(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]) * 1e6
    }
}

func micro(_ value: Double) -> String { String(format: "%.1f µs", value) }
func rate(_ value: Double) -> String { String(format: "%.0f calls/s", value) }

/// CPU µs and context switches per call.
func perCall(_ counters: ProcessCounters, _ calls: Int) -> String {
    guard calls > 0 else { return "-" }
    return String(format: "%.1f, %.2f", counters.cpuSeconds * 1e6 / Double(calls),
                  Double(counters.contextSwitches) / Double(calls))
}

/// "median (min–max)".
func summary(_ values: [Double]) -> String {
    String(format: "%.2f (%.2f–%.2f)", median(values), values.min() ?? .nan, values.max() ?? .nan)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// What `perf stat -x,` counted, by event name.
struct PerfCounts {
    var values: [String: Double] = [:]

    var contextSwitches: Double { values["context-switches"] ?? 0 }
    /// perf prints task-clock in milliseconds.
    var taskClockMicroseconds: Double { (values["task-clock"] ?? 0) * 1000 }
    /// The calls of the allocation functions ``MallocProbes`` put uprobes on.
    var allocations: Double {
        values.filter { $0.key.hasPrefix(MallocProbes.group + ":") }.values.reduce(0, +)
    }
}

/// `perf stat -e EVENTS -p PID -- cat`: perf counts PID until its workload,
/// a `cat` of a pipe from here, ends, which it does when this closes the
/// pipe. (Not SIGINT: a child started from a thread of Swift's pool inherits
/// its blocked signals, and perf would never see it.)
final class PerfStat {
    static let standardEvents = ["context-switches", "task-clock"]

    private let process = Process()
    private let errors = Pipe()
    private let input = Pipe()
    private let events: [String]

    init(pid: Int32, events: [String] = PerfStat.standardEvents) throws {
        self.events = events
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["perf", "stat", "-x", ",", "-e", events.joined(separator: ","), "-p", "\(pid)", "--", "cat"]
        process.standardInput = input
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    func finish() throws -> PerfCounts {
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        var counts = PerfCounts()
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
            guard fields.count >= 3, let value = Double(fields[0]) else { continue }
            let event = String(fields[2])
            if events.contains(event) { counts.values[event] = value }
        }
        guard counts.values.count == events.count else { throw BenchmarkFailure("perf stat printed not every count: \(text)") }
        return counts
    }
}

/// uprobes on libc's allocation functions (`malloc`, `calloc`, `realloc`,
/// `posix_memalign`, `aligned_alloc`, which is `memalign` here), so that
/// `perf stat -e probe_libc:malloc,… -p PID` counts a process's
/// allocations without linking anything into it. Needs root; removes the
/// probes it added (not those that were there before) in ``remove()``.
/// A uprobe costs a trap per call, so count CPU time in another run.
final class MallocProbes {
    static let group = "probe_libc"
    static let functions = ["malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc"]

    /// The events to give `perf stat -e`.
    let events: [String]
    private var added: [String]

    init() throws {
        guard let libc = Self.libcPath() else { throw BenchmarkFailure("no libc.so.6 in /proc/self/maps") }
        let existing = try Self.perf(["probe", "-l"]).output
        var events: [String] = []
        var added: [String] = []
        for function in Self.functions {
            let event = "\(Self.group):\(function)"
            if !existing.contains(event + " ") {
                let result = try Self.perf(["probe", "-q", "-x", libc, "-a", function])
                guard result.status == 0 else {
                    Self.delete(added)
                    throw BenchmarkFailure("perf probe -x \(libc) -a \(function) failed: \(result.output)")
                }
                added.append(event)
            }
            events.append(event)
        }
        self.events = events
        self.added = added
    }

    /// Deletes the probes this added.
    func remove() {
        Self.delete(added)
        added = []
    }

    private static func delete(_ events: [String]) {
        for event in events {
            _ = try? perf(["probe", "-q", "-d", event])
        }
    }

    /// The libc.so.6 this process has mapped (read to the end: /proc files have no size).
    private static func libcPath() -> String? {
        guard let maps = FileHandle(forReadingAtPath: "/proc/self/maps")?.readDataToEndOfFile() else { return nil }
        for line in String(decoding: maps, as: UTF8.self).split(separator: "\n") {
            if let path = line.split(separator: " ").last, path.hasSuffix("/libc.so.6") { return String(path) }
        }
        return nil
    }

    private static func perf(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["perf"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }
}

/// One side of an A/B probe: a node process and this process's caller of it.
struct ProbeSide {
    let name: String
    let node: ServerProcess
    let calls: TypedCalls
    /// Where the node's metrics dump is, if it writes one.
    var dump: String? = nil
}

/// One interleaved round over `order`: for each side, one call in flight
/// for `phase` (every call's time), then `window` in flight for `phase`;
/// with the node's and this process's CPU time and context switches of each.
func measureRound(_ order: [ProbeSide], phase: Duration, window: Int) async throws -> [String: RoundFigures] {
    var figures: [String: RoundFigures] = [:]
    for side in order {
        try await side.calls.roundTrips(200)
        let pid = side.node.processIdentifier
        let (node0, client0) = (ProcessCounters.of(pid), ProcessCounters.of(getpid()))
        figures[side.name, default: RoundFigures()].latencies = try await side.calls.timedRoundTrips(for: phase)
        if let node0, let client0, let node1 = ProcessCounters.of(pid), let client1 = ProcessCounters.of(getpid()) {
            figures[side.name]!.single = node1 - node0
            figures[side.name]!.singleClient = client1 - client0
        }
    }
    for side in order {
        _ = try await side.calls.windowed(for: .milliseconds(200), window: window)
        let pid = side.node.processIdentifier
        let (node0, client0) = (ProcessCounters.of(pid), ProcessCounters.of(getpid()))
        let (calls, elapsed) = try await side.calls.windowed(for: phase, window: window)
        figures[side.name]!.windowCalls = calls
        figures[side.name]!.windowElapsed = elapsed
        if let node0, let client0, let node1 = ProcessCounters.of(pid), let client1 = ProcessCounters.of(getpid()) {
            figures[side.name]!.windowed = node1 - node0
            figures[side.name]!.windowedClient = client1 - client0
        }
    }
    return figures
}

/// The options every A/B probe takes (`curve`, `instrumented`): rounds,
/// seconds per phase, the window, the node's replicas and `--counts`.
struct RoundOptions {
    var rounds = 5
    var phase = Duration.seconds(2)
    var window = PingPongDefaults.window
    var replicas = 4
    var counts: Int?

    /// Takes `option` and its value from `rest`: true when taken, false for
    /// a bad value, nil when `option` is not one of these.
    mutating func take(_ option: String, from rest: inout ArraySlice<String>) -> Bool? {
        switch option {
        case "--rounds":
            guard let value = rest.popFirst().flatMap(Int.init), (1...50).contains(value) else { return false }
            rounds = value
        case "--seconds":
            guard let value = rest.popFirst().flatMap(Double.init), value > 0, value <= 30 else { return false }
            phase = .milliseconds(Int(value * 1000))
        case "--window":
            guard let value = rest.popFirst().flatMap(Int.init), value >= 1 else { return false }
            window = value
        case "--replicas":
            guard let value = rest.popFirst().flatMap(Int.init), value >= 1 else { return false }
            replicas = value
        case "--counts":
            guard let value = rest.popFirst().flatMap(Int.init), (100...1_000_000).contains(value) else { return false }
            counts = value
        default:
            return nil
        }
        return true
    }
}
