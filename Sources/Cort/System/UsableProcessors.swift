import Foundation

/// How many CPUs this process can run on at once: the CPUs its affinity
/// mask allows (`taskset`, a container's cpuset), fewer when its cgroup's
/// CPU quota (`cpu.max`, cgroup v2) is smaller. Foundation's
/// `activeProcessorCount` counts neither.
///
/// Read once. cort decides with it whether work may wait for a thread of
/// its own to run beside the caller's (see `RemoteServiceState.defersSends`).
enum UsableProcessors {
    static let count: Int = {
        let online = max(1, ProcessInfo.processInfo.activeProcessorCount)
        var usable = affinityCount() ?? online
        if let quota = cgroupQuota() { usable = min(usable, quota) }
        return max(1, min(usable, online))
    }()

    /// The CPUs the process's affinity mask allows (`Cpus_allowed_list` in
    /// `/proc/self/status`), if Linux says.
    static func affinityCount() -> Int? {
        #if os(Linux)
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("Cpus_allowed_list:") {
            return cpuCount(list: String(line.dropFirst("Cpus_allowed_list:".count)))
        }
        return nil
        #else
        return nil
        #endif
    }

    /// The CPUs in a Linux CPU list ("0-3,6,8-9"); nil for what it cannot read.
    static func cpuCount(list: String) -> Int? {
        var count = 0
        for part in list.split(separator: ",") {
            let bounds = part.trimmingCharacters(in: .whitespaces).split(separator: "-")
            guard let first = bounds.first.flatMap({ Int($0) }) else { return nil }
            let last = bounds.count == 2 ? Int(bounds[1]) : (bounds.count == 1 ? first : nil)
            guard let last, last >= first else { return nil }
            count += last - first + 1
        }
        return count > 0 ? count : nil
    }

    /// Whole CPUs the process's cgroup (v2) lets it use, if it sets a quota.
    static func cgroupQuota() -> Int? {
        #if os(Linux)
        guard let membership = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8),
              let path = cgroupPath(membership),
              let limit = try? String(contentsOfFile: "/sys/fs/cgroup" + path + "/cpu.max", encoding: .utf8)
        else { return nil }
        return quota(cpuMax: limit)
        #else
        return nil
        #endif
    }

    /// The cgroup v2 path in `/proc/self/cgroup` (its `0::` line).
    static func cgroupPath(_ membership: String) -> String? {
        for line in membership.split(separator: "\n") where line.hasPrefix("0::") {
            let path = line.dropFirst(3)
            return path.isEmpty ? nil : (path == "/" ? "" : String(path))
        }
        return nil
    }

    /// Whole CPUs (at least one) a `cpu.max` of "quota period" allows; nil
    /// for "max" (no quota) or what it cannot read.
    static func quota(cpuMax: String) -> Int? {
        let fields = cpuMax.split(whereSeparator: \.isWhitespace)
        guard fields.count == 2, fields[0] != "max", let quota = Int(fields[0]), let period = Int(fields[1]),
              quota > 0, period > 0
        else { return nil }
        return max(1, quota / period)
    }
}
