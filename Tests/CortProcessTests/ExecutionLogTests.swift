import Foundation
import ReliabilityServices
import Testing

@Suite("ExecutionLog")
struct ExecutionLogTests {
    /// A fresh path in the temporary folder, removed at the end.
    func withPath(_ body: (String) throws -> Void) throws {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("cort-execution-log-\(UInt64.random(in: 0...UInt64.max)).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try body(path)
    }

    @Test("entries come back in the order they were recorded, from a reopened file too")
    func roundTrip() throws {
        try withPath { path in
            try ExecutionLog(path: path).record(method: "append", key: "a-1")
            let log = try ExecutionLog(path: path)
            try log.record(method: "read", key: "r-2")
            try log.record(method: "append", key: "a-3")
            let entries = try ExecutionLog.entries(atPath: path)
            #expect(entries.map(\.method) == ["append", "read", "append"])
            #expect(entries.map(\.key) == ["a-1", "r-2", "a-3"])
        }
    }

    @Test("a log that was never written has no entries")
    func missingFile() throws {
        try withPath { path in
            let entries = try ExecutionLog.entries(atPath: path)
            #expect(entries.isEmpty)
        }
    }

    @Test("lines written from many threads at once stay whole")
    func concurrentWriters() async throws {
        try withPath { path in
            let log = try ExecutionLog(path: path)
            DispatchQueue.concurrentPerform(iterations: 8) { writer in
                for index in 0..<500 {
                    try? log.record(method: "append", key: "a-\(writer)-\(index)")
                }
            }
            let keys = try ExecutionLog.entries(atPath: path).map(\.key)
            #expect(keys.count == 4000)
            #expect(Set(keys).count == 4000)
        }
    }

    @Test("a key or method that would break its line is refused and writes nothing",
          arguments: [("append", "a b"), ("append", "a\nb"), ("append", ""), ("ap pend", "a-1"), ("", "a-1"), ("read", "r\r1")])
    func badInput(method: String, key: String) throws {
        try withPath { path in
            let log = try ExecutionLog(path: path)
            #expect(throws: ExecutionLogError.self) { try log.record(method: method, key: key) }
            try log.record(method: "read", key: "r-1")
            #expect(try ExecutionLog.entries(atPath: path) == [ExecutionLog.Entry(method: "read", key: "r-1")])
        }
    }

    @Test("a malformed file is reported with the line's number",
          arguments: [("read r-1\nnonsense\n", "line 2"), ("read r-1\na b c\n", "line 2"), ("\n", "line 1"), ("read r-1", "middle of a line")])
    func malformedFile(text: String, expected: String) throws {
        try withPath { path in
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            let error = try #require(throws: ExecutionLogError.self) { try ExecutionLog.entries(atPath: path) }
            #expect(error.message.contains(expected), "\(error)")
        }
    }

    @Test("a log that cannot be opened says where and why")
    func unopenable() throws {
        let error = try #require(throws: ExecutionLogError.self) {
            try ExecutionLog(path: "/nonexistent-folder/for-cort/node.log")
        }
        #expect(error.message.contains("/nonexistent-folder/for-cort/node.log"))
        #expect(error.errno == ENOENT)
    }
}
