import ReliabilityServices
import Testing

/// The flood report's lines: what CortTestCaller prints, the tests read back.
@Suite("FloodReport")
struct FloodReportTests {
    static func sample() -> FloodReport {
        var report = FloodReport()
        report.recordSuccess()
        report.recordFailure(code: "overloaded", message: "every node of ledger is full")
        report.recordFailure(code: "deadline exceeded", message: "no reply within 2 s:\nnode-0 is slow")
        report.recordFailure(code: "overloaded", message: "a later message")
        report.recordUnexpected("a receipt for\nr-flood-3")
        (report.rssBefore, report.rssPeak, report.rssBare) = (1_000, 5_000, 3_000)
        report.elapsedMilliseconds = 2_310
        return report
    }

    @Test("recording counts every ending and keeps the first message of each code")
    func recording() {
        let report = Self.sample()
        #expect(report.ended == 5)
        #expect(report.succeeded == 1)
        #expect(report.failed == ["overloaded": 2, "deadline exceeded": 1])
        #expect(report.messages["overloaded"] == "every node of ledger is full")
        #expect(report.unexpected == ["a receipt for\nr-flood-3"])
    }

    @Test("only the first few unexpected endings are kept, all are counted")
    func unexpectedKept() {
        var report = FloodReport()
        for index in 0..<(FloodReport.unexpectedKept + 3) { report.recordUnexpected("ending \(index)") }
        #expect(report.ended == FloodReport.unexpectedKept + 3)
        #expect(report.unexpected.count == FloodReport.unexpectedKept)
    }

    @Test("its lines read back as the same report, line breaks in texts flattened to spaces")
    func roundTrip() throws {
        let report = Self.sample()
        let lines = report.lines
        #expect(lines.contains("failed deadline exceeded 1"))
        #expect(lines.contains("rss before=1000 peak=5000 bare=3000"))
        #expect(!lines.contains { $0.contains("\n") })
        let read = try FloodReport(lines: ["flooding"] + lines + [""])
        var expected = report
        expected.messages["deadline exceeded"] = "no reply within 2 s: node-0 is slow"
        expected.unexpected = ["a receipt for r-flood-3"]
        #expect(read == expected)
    }

    @Test("lines it cannot read are refused, naming the line", arguments: [
        ("ended many", "\"many\" is not a count"),
        ("succeeded -1", "\"-1\" is not a count"),
        ("failed 12", "a failed line without a code"),
        ("failed overloaded twelve", "\"twelve\" is not a count"),
        ("message overloaded without a colon", "a message line without"),
        ("rss before=1 peak=2", "an rss line wants before=, peak= and bare="),
        ("rss before=1 peak=2 bare=3 extra=4", "an rss line wants before=, peak= and bare="),
        ("rss before=1 peak bare=3", "\"peak\" is not name=bytes"),
        ("elapsed-ms soon", "\"soon\" is not a count"),
        ("Fatal error: something crashed", "an unknown line"),
    ])
    func badLine(line: String, message: String) {
        let lines = Self.sample().lines + [line]
        #expect {
            try FloodReport(lines: lines)
        } throws: { error in
            guard let error = error as? FloodReportError else { return false }
            return error.message.contains(message) && error.line == line
        }
    }

    @Test("a report without one of its required lines is refused", arguments: ["ended", "succeeded", "rss", "elapsed-ms"])
    func missingLine(word: String) {
        let lines = Self.sample().lines.filter { !$0.hasPrefix("\(word) ") }
        #expect(throws: FloodReportError("the report has no \"\(word)\" line", line: nil)) {
            try FloodReport(lines: lines)
        }
    }
}
