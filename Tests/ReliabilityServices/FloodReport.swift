/// How a flood of calls ended, as `CortTestCaller` prints it on standard
/// output and the process tests read it back: one fact a line, its first
/// word saying which.
///
/// ```
/// flooding                      (printed when the flood starts, before the rest)
/// ended 100000
/// succeeded 275
/// failed overloaded 99341       (code, then count; a code may have spaces)
/// failed deadline exceeded 384
/// message overloaded: <the first message of that code>
/// unexpected <text>             (at most five)
/// rss before=<bytes> peak=<bytes> bare=<bytes>
/// elapsed-ms 2310
/// ```
///
/// Both sides use this type, so the format has one definition:
///
/// ```swift
/// var report = FloodReport()
/// report.recordFailure(code: "overloaded", message: "every node is full")
/// let lines = report.lines                          // caller: print each
/// let read = try FloodReport(lines: lines)          // test: parse them
/// ```
public struct FloodReport: Sendable, Equatable {
    /// Calls that ended, whichever way.
    public var ended = 0
    /// Calls that returned their receipt.
    public var succeeded = 0
    /// Calls that failed with a `RemoteCallError`, counted by its code's description.
    public var failed: [String: Int] = [:]
    /// The first message of each failure code.
    public var messages: [String: String] = [:]
    /// The first few other endings (another error, a wrong receipt).
    public var unexpected: [String] = []
    /// The caller's resident bytes before the flood.
    public var rssBefore = 0
    /// The caller's highest resident bytes during the flood.
    public var rssPeak = 0
    /// The highest resident bytes while as many bare suspended tasks ran.
    public var rssBare = 0
    /// How long the flood took, in milliseconds.
    public var elapsedMilliseconds = 0

    /// How many unexpected endings are kept: one is enough to fail, a few to see a pattern.
    public static let unexpectedKept = 5

    /// An empty report.
    public init() {}

    /// A call returned its receipt.
    public mutating func recordSuccess() {
        ended += 1
        succeeded += 1
    }

    /// A call failed with a `RemoteCallError` of `code` (its description).
    public mutating func recordFailure(code: String, message: String) {
        ended += 1
        failed[code, default: 0] += 1
        if messages[code] == nil { messages[code] = message }
    }

    /// A call ended in a way the flood does not expect.
    public mutating func recordUnexpected(_ text: String) {
        ended += 1
        if unexpected.count < Self.unexpectedKept { unexpected.append(text) }
    }

    /// The report's lines, without `flooding`, in a fixed order.
    public var lines: [String] {
        var lines = ["ended \(ended)", "succeeded \(succeeded)"]
        lines += failed.sorted { $0.key < $1.key }.map { "failed \(Self.oneLine($0.key)) \($0.value)" }
        lines += messages.sorted { $0.key < $1.key }.map { "message \(Self.oneLine($0.key)): \(Self.oneLine($0.value))" }
        lines += unexpected.map { "unexpected \(Self.oneLine($0))" }
        lines.append("rss before=\(rssBefore) peak=\(rssPeak) bare=\(rssBare)")
        lines.append("elapsed-ms \(elapsedMilliseconds)")
        return lines
    }

    /// Reads a report from `lines` (`flooding` and empty lines are skipped).
    ///
    /// - Throws: ``FloodReportError`` naming the line for a line it does not
    ///   know or cannot read, and for a report without its `ended`,
    ///   `succeeded`, `rss` or `elapsed-ms` line.
    public init(lines: some Sequence<String>) throws(FloodReportError) {
        var seen: Set<String> = []
        for line in lines where !line.isEmpty && line != "flooding" {
            let (word, rest) = Self.split(line)
            switch word {
            case "ended":
                ended = try Self.count(rest, in: line)
            case "succeeded":
                succeeded = try Self.count(rest, in: line)
            case "failed":
                let (code, count) = Self.splitLast(rest)
                guard !code.isEmpty else { throw FloodReportError("a failed line without a code", line: line) }
                failed[code] = try Self.count(count, in: line)
            case "message":
                guard let colon = rest.range(of: ": ") else {
                    throw FloodReportError("a message line without \"<code>: \"", line: line)
                }
                messages[String(rest[..<colon.lowerBound])] = String(rest[colon.upperBound...])
            case "unexpected":
                unexpected.append(rest)
            case "rss":
                let fields = try Self.fields(rest, in: line)
                guard let before = fields["before"], let peak = fields["peak"], let bare = fields["bare"], fields.count == 3 else {
                    throw FloodReportError("an rss line wants before=, peak= and bare=", line: line)
                }
                (rssBefore, rssPeak, rssBare) = (before, peak, bare)
            case "elapsed-ms":
                elapsedMilliseconds = try Self.count(rest, in: line)
            default:
                throw FloodReportError("an unknown line", line: line)
            }
            seen.insert(word)
        }
        for word in ["ended", "succeeded", "rss", "elapsed-ms"] where !seen.contains(word) {
            throw FloodReportError("the report has no \"\(word)\" line", line: nil)
        }
    }

    /// Line breaks would split a fact over lines: an error's text may have them.
    private static func oneLine(_ text: String) -> String {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).joined(separator: " ")
    }

    private static func split(_ line: String) -> (String, String) {
        guard let space = line.firstIndex(of: " ") else { return (line, "") }
        return (String(line[..<space]), String(line[line.index(after: space)...]))
    }

    private static func splitLast(_ text: String) -> (String, String) {
        guard let space = text.lastIndex(of: " ") else { return ("", text) }
        return (String(text[..<space]), String(text[text.index(after: space)...]))
    }

    private static func count(_ text: String, in line: String) throws(FloodReportError) -> Int {
        guard let value = Int(text), value >= 0 else {
            throw FloodReportError("\"\(text)\" is not a count", line: line)
        }
        return value
    }

    private static func fields(_ text: String, in line: String) throws(FloodReportError) -> [String: Int] {
        var fields: [String: Int] = [:]
        for field in text.split(separator: " ") {
            let parts = field.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { throw FloodReportError("\"\(field)\" is not name=bytes", line: line) }
            fields[String(parts[0])] = try count(String(parts[1]), in: line)
        }
        return fields
    }
}
