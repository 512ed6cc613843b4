#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An append-only file with one line per executed call, `<method> <key>`.
///
/// The file is opened with `O_APPEND` and each line is one `write(2)`, so a
/// line is in the file as soon as ``record(method:key:)`` returns, whatever
/// happens to the process afterwards (`kill -9` included): the kernel owns
/// it, no buffer of this process does. One small `O_APPEND` write is atomic
/// on a local file, so replicas on several threads never interleave lines.
///
/// ```swift
/// let log = try ExecutionLog(path: "/tmp/node-1.log")
/// try log.record(method: "append", key: "a-17")
/// let entries = try ExecutionLog.entries(atPath: "/tmp/node-1.log")   // [("append", "a-17")]
/// ```
public final class ExecutionLog: Sendable {
    /// One executed call as the log has it.
    public struct Entry: Sendable, Hashable {
        /// The method's name (`read`, `append`).
        public var method: String
        /// The call's unique key.
        public var key: String

        /// Creates an entry.
        public init(method: String, key: String) {
            self.method = method
            self.key = key
        }
    }

    /// The file's path.
    public let path: String
    // Written once in init; write(2) on it is safe from any thread.
    private let descriptor: Int32

    /// Opens (creating it if needed) the log at `path` for appending.
    public init(path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw ExecutionLogError("cannot open \(path) for appending", errno: errno)
        }
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Appends `<method> <key>` as one line, with one `write(2)`.
    ///
    /// - Throws: ``ExecutionLogError`` for a method or key that is empty or
    ///   has a space or line break (it would corrupt the line), or when the
    ///   write fails.
    public func record(method: String, key: String) throws {
        try Self.validate(method, "method")
        try Self.validate(key, "key")
        let line = Array("\(method) \(key)\n".utf8)
        let written = line.withUnsafeBytes { bytes in
            var result: Int
            repeat {
                result = write(descriptor, bytes.baseAddress, bytes.count)
            } while result < 0 && errno == EINTR
            return result
        }
        if written < 0 {
            throw ExecutionLogError("cannot write to \(path)", errno: errno)
        }
        if written != line.count {
            // Only a full disk does this to a small O_APPEND write.
            throw ExecutionLogError("wrote \(written) of \(line.count) bytes to \(path)", errno: 0)
        }
    }

    /// The entries of the log at `path`, in the order they were written; a
    /// file that does not exist has none.
    ///
    /// - Throws: ``ExecutionLogError`` when the file cannot be read or a line
    ///   is not `<method> <key>` (the message gives the line's number).
    public static func entries(atPath path: String) throws -> [Entry] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        if descriptor < 0 {
            if errno == ENOENT { return [] }
            throw ExecutionLogError("cannot open \(path) for reading", errno: errno)
        }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ExecutionLogError("cannot read \(path)", errno: errno)
            }
            if count == 0 { break }
            bytes += chunk[..<count]
        }
        if let last = bytes.last, last != UInt8(ascii: "\n") {
            throw ExecutionLogError("\(path) ends in the middle of a line", errno: 0)
        }
        var entries: [Entry] = []
        for (index, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast().enumerated() {
            let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ExecutionLogError("\(path): line \(index + 1) is not \"<method> <key>\"", errno: 0)
            }
            entries.append(Entry(method: String(decoding: parts[0], as: UTF8.self),
                                 key: String(decoding: parts[1], as: UTF8.self)))
        }
        return entries
    }

    private static func validate(_ value: String, _ what: String) throws {
        if value.isEmpty || value.utf8.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) {
            throw ExecutionLogError("the \(what) \"\(value)\" is empty or has a space or line break", errno: 0)
        }
    }
}
