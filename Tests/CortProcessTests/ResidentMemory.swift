import Foundation

/// A process's resident memory, from `/proc/<pid>/statm` (Linux).
enum ResidentMemory {
    /// The resident bytes of `pid` (this process by default), or nil when
    /// the file cannot be read (not Linux, or the process is gone).
    static func bytes(of pid: String = "self") -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func megabytes(_ bytes: Int) -> String {
        (Double(bytes) / 1_048_576).formatted(.number.precision(.fractionLength(1))) + " MB"
    }
}
