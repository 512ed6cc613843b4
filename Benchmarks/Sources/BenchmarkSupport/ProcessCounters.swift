import Foundation

/// What another process has used so far, from /proc (Linux): its CPU time
/// (user + system, all its threads, those that have ended too) and the
/// context switches of its threads alive now. Take two and subtract them for
/// what happened in between (a thread that ended in between takes its
/// switches with it, so they are a slight undercount; `perf stat -p` is exact).
public struct ProcessCounters: Sendable {
    /// User + system CPU time, in seconds (clock-tick resolution, 10 ms).
    public var cpuSeconds: Double
    /// Voluntary + involuntary context switches, summed over the live threads.
    public var contextSwitches: Int

    /// Nothing used.
    public static let zero = ProcessCounters(cpuSeconds: 0, contextSwitches: 0)

    public init(cpuSeconds: Double, contextSwitches: Int) {
        self.cpuSeconds = cpuSeconds
        self.contextSwitches = contextSwitches
    }

    /// The counters of process `pid` now, or nil when /proc cannot tell.
    public static func of(_ pid: Int32) -> ProcessCounters? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After the command's ")": state (field 3), …, utime (14), stime (15).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var switches = 0
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for task in tasks {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/status", encoding: .utf8) else { continue }
            for line in status.split(separator: "\n")
            where line.hasPrefix("voluntary_ctxt_switches:") || line.hasPrefix("nonvoluntary_ctxt_switches:") {
                switches += line.split(separator: "\t").last.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } ?? 0
            }
        }
        return ProcessCounters(cpuSeconds: (user + system) / ticks, contextSwitches: switches)
    }

    /// What was used from `earlier` to this.
    public static func - (later: ProcessCounters, earlier: ProcessCounters) -> ProcessCounters {
        ProcessCounters(cpuSeconds: later.cpuSeconds - earlier.cpuSeconds,
                        contextSwitches: later.contextSwitches - earlier.contextSwitches)
    }
}
