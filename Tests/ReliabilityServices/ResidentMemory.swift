import Foundation
import Synchronization

/// A process's resident memory, from `/proc/<pid>/statm` (Linux).
///
/// Shared by the process tests (the nodes' memory) and `CortTestCaller`
/// (its own memory during a flood).
///
/// ```swift
/// let mine = ResidentMemory.bytes()                   // this process
/// let node = ResidentMemory.bytes(of: "\(node.pid)")  // another one
/// let (tally, before, peak) = await ResidentMemory.peak { await flood() }
/// ```
public enum ResidentMemory {
    /// The resident bytes of `pid` (this process by default), or nil when
    /// the file cannot be read (not Linux, or the process is gone).
    public static func bytes(of pid: String = "self") -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// `bytes` in megabytes with one decimal, for reports ("12.5 MB").
    public static func megabytes(_ bytes: Int) -> String {
        (Double(bytes) / 1_048_576).formatted(.number.precision(.fractionLength(1))) + " MB"
    }
}

extension ResidentMemory {
    /// Runs `body` while sampling this process's resident memory every 10
    /// ms; returns its result, the memory before it and the highest sample.
    public static func peak<R: Sendable>(during body: () async throws -> R) async rethrows -> (result: R, before: Int, peak: Int) {
        let before = bytes() ?? 0
        let peak = Atomic(before)
        let done = Atomic(false)
        async let sampling: Void = {
            // Paced, and bounded by its own count (a minute) in case `body` hangs.
            for _ in 0..<6_000 where !done.load(ordering: .relaxed) {
                if let now = bytes() { peak.max(now, ordering: .relaxed) }
                try? await Task.sleep(for: .milliseconds(10))
            }
        }()
        let result: R
        do {
            result = try await body()
        } catch {
            done.store(true, ordering: .relaxed)
            await sampling
            throw error
        }
        done.store(true, ordering: .relaxed)
        await sampling
        if let now = bytes() { peak.max(now, ordering: .relaxed) }
        return (result, before, peak.load(ordering: .relaxed))
    }
}
