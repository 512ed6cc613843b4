import CortTesting
import Foundation
import Logging
import Synchronization
import Testing
@testable import Cort

/// An allow-list file: its syntax, reloading it, and watching it for
/// changes and `SIGHUP`.
///
/// Serialized: the `SIGHUP` test reloads every list being watched in the process.
@Suite(.serialized, .timeLimit(.minutes(1))) struct CallerAllowListTests {
    /// A folder of its own under the temporary folder, removed at the end.
    private func withDirectory<R>(_ body: (URL) async throws -> R) async throws -> R {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cort-allow-list-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        return try await body(directory)
    }

    /// Writes `text` over the file at `path` in place: same inode.
    private func rewrite(_ path: String, _ text: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    /// Writes `text` to a new file and renames it over `path`, as editors and
    /// configuration tools do: a new inode.
    private func renameOver(_ path: String, _ text: String) throws {
        let temporary = path + ".new"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        #expect(rename(temporary, path) == 0)
    }

    private func keys(_ count: Int) throws -> [CurveKey] {
        try (0..<count).map { _ in try CurveKeyPair.generate().publicKey }
    }

    /// Runs `watch` in a task that returns when it does.
    private func startWatch(_ list: CallerAllowList, every interval: Duration, clock: TestClock, log: WatchLog)
        -> Task<Void, Never> {
        let logger = log.logger
        return Task { await list.watch(every: interval, clock: clock, logger: logger) }
    }

    // MARK: syntax

    @Test("keys, public-key settings, comments and blank lines")
    func parsesCommentsAndBlankLines() throws {
        let keys = try keys(4)
        let text = """
            # callers of the vault
            \(keys[0].z85)

               \(keys[1].z85)   # billing-1, indented
            public-key = "\(keys[2].z85)"   # from billing-2.pub
            \tpublic-key='\(keys[3].z85)'
            # \(try CurveKeyPair.generate().publicKey.z85) (taken out)
            \(keys[0].z85)\r
            """
        let parsed = try CallerAllowList.parse(text, source: "allowed")
        #expect(parsed == Set(keys))
    }

    @Test("cort keygen's .pub files, concatenated, are an allow-list")
    func publicKeyFilesConcatenated() throws {
        let pairs = try (0..<3).map { _ in try CurveKeyPair.generate() }
        let parsed = try CallerAllowList.parse(pairs.map(\.publicKeyFileText).joined(), source: "cat *.pub")
        #expect(parsed == Set(pairs.map(\.publicKey)))
    }

    @Test("an empty list parses, and lets nobody in")
    func emptyList() async throws {
        #expect(try CallerAllowList.parse("", source: "empty").isEmpty)
        #expect(try CallerAllowList.parse("# nobody yet\n\n", source: "empty").isEmpty)
        try await withDirectory { directory in
            let path = directory.appendingPathComponent("allowed").path
            try "# nobody yet\n".write(toFile: path, atomically: false, encoding: .utf8)
            let list = try CallerAllowList(contentsOfFile: path)
            #expect(list.keys.isEmpty)
            #expect(!list.contains(try CurveKeyPair.generate().publicKey))
            #expect(list.path == path)
        }
    }

    @Test("a line that is no key is an invalidKey error naming the source and line", arguments: [
        ("{key}\nnot a key\n", 2, "not a public key"),
        ("# one\n\n{key} {key}\n", 3, "not a public key"),
        ("{key} trailing words\n", 1, "not a public key"),
        ("{key}\n\n{short}\n", 3, "this one has 39"),
        ("secret-key = \"{key}\"\n", 1, "secret key in an allow-list"),
        ("public-key = \"{short}\"\n", 1, "39 characters"),
        ("public-key = \"{key}\" extra\n", 1, "malformed"),
        ("name = \"billing\"\n", 1, "no meaning in an allow-list"),
        ("curve\n    public-key = \"{key}\"\n", 1, "not a public key"),
        ("{notz85}\n", 1, "not valid Z85"),
    ])
    func malformedLine(template: String, line: Int, words: String) throws {
        let key = try CurveKeyPair.generate().publicKey.z85
        let text = template
            .replacingOccurrences(of: "{notz85}", with: "public-key = \"\("~" + key.dropFirst())\"")
            .replacingOccurrences(of: "{short}", with: String(key.dropLast()))
            .replacingOccurrences(of: "{key}", with: key)
        let error = #expect(throws: ConfigurationError.self) { try CallerAllowList.parse(text, source: "allowed-callers") }
        #expect(error?.code == .invalidKey)
        #expect(error?.message.hasPrefix("allowed-callers, line \(line): ") == true, "\(String(describing: error))")
        #expect(error?.message.contains(words) == true, "\(String(describing: error))")
    }

    @Test("a missing file is an invalidKey error naming it")
    func missingFile() {
        let path = "/nonexistent-folder-for-cort/allowed-\(UUID())"
        let error = #expect(throws: ConfigurationError.self) { try CallerAllowList(contentsOfFile: path) }
        #expect(error?.code == .invalidKey)
        #expect(error?.message.contains(path) == true, "\(String(describing: error))")
    }

    // MARK: reload

    @Test("reload of a list given in code reads nothing and changes nothing")
    func reloadInCode() throws {
        let key = try CurveKeyPair.generate().publicKey
        let list = CallerAllowList([key])
        let generation = list.generation
        #expect(try list.reload() == false)
        #expect(list.generation == generation)
        #expect(list.keys == [key])
    }

    @Test("reload picks up a rewrite in place and a rename over the file")
    func reloadPicksUpChanges() async throws {
        try await withDirectory { directory in
            let path = directory.appendingPathComponent("allowed").path
            let keys = try keys(3)
            try "\(keys[0].z85)\n\(keys[1].z85)\n".write(toFile: path, atomically: false, encoding: .utf8)
            let list = try CallerAllowList(contentsOfFile: path)
            #expect(list.keys == [keys[0], keys[1]])
            let initial = list.state.withLock { $0.file }

            // Unchanged: nothing moves.
            var generation = list.generation
            #expect(try list.reload() == false)
            #expect(list.generation == generation)

            // In place: the same inode, other keys.
            try rewrite(path, "# bob left\n\(keys[0].z85)\n")
            #expect(try list.reload() == true)
            #expect(list.generation != generation)
            #expect(list.contains(keys[0]))
            #expect(!list.contains(keys[1]))
            let rewritten = list.state.withLock { $0.file }
            #expect(rewritten?.inode == initial?.inode)
            #expect(rewritten != initial)

            // Renamed over: a new inode.
            generation = list.generation
            try renameOver(path, "\(keys[2].z85)\n")
            #expect(try list.reload() == true)
            #expect(list.generation != generation)
            #expect(list.keys == [keys[2]])
            #expect(list.state.withLock { $0.file?.inode } != rewritten?.inode)
        }
    }

    @Test("a malformed rewrite keeps the keys the list had, and throws")
    func malformedRewriteKeepsKeys() async throws {
        try await withDirectory { directory in
            let path = directory.appendingPathComponent("allowed").path
            let keys = try keys(2)
            try "\(keys[0].z85)\n\(keys[1].z85)\n".write(toFile: path, atomically: false, encoding: .utf8)
            let list = try CallerAllowList(contentsOfFile: path)
            let generation = list.generation

            try rewrite(path, "\(keys[0].z85)\n\(keys[1].z85.prefix(20))\n")
            let error = #expect(throws: ConfigurationError.self) { try list.reload() }
            #expect(error?.code == .invalidKey)
            #expect(error?.message.contains("\(path), line 2:") == true, "\(String(describing: error))")
            #expect(list.keys == [keys[0], keys[1]])
            #expect(list.generation == generation)

            try FileManager.default.removeItem(atPath: path)
            #expect(throws: ConfigurationError.self) { try list.reload() }
            #expect(list.keys == [keys[0], keys[1]])
        }
    }

    // MARK: watch

    @Test("watch reloads a list whose file was rewritten, until cancelled")
    func watchPicksUpRewrite() async throws {
        try await withDirectory { directory in
            let path = directory.appendingPathComponent("allowed").path
            let keys = try keys(3)
            try "\(keys[0].z85)\n\(keys[1].z85)\n".write(toFile: path, atomically: false, encoding: .utf8)
            let list = try CallerAllowList(contentsOfFile: path)
            let log = WatchLog()
            var timer = WatchTimer(interval: .seconds(20))
            let task = startWatch(list, every: timer.interval, clock: timer.clock, log: log)
            defer { task.cancel() }
            try await timer.started()

            // Revoke keys[1], in place; two checks see it changed and then
            // the same, so the second applies it.
            try rewrite(path, "\(keys[0].z85)\n")
            try await timer.tick(2)
            try #require(await arrives { await log.waitFor(1, "reloaded the caller allow-list") },
                         "the rewrite was not reloaded")
            #expect(list.keys == [keys[0]], "the revoked key is still allowed")
            // Then renamed over.
            try renameOver(path, "\(keys[0].z85)\n\(keys[2].z85)\n")
            try await timer.tick(2)
            try #require(await arrives { await log.waitFor(2, "reloaded the caller allow-list") },
                         "the rename was not reloaded")
            #expect(list.keys == [keys[0], keys[2]], "the added key is not allowed yet")

            let reloads = log.recorder.entries.filter { $0.message == "reloaded the caller allow-list" }
            #expect(reloads.count == 2)
            #expect(reloads.allSatisfy { $0.level == .notice })
            #expect(reloads.contains { $0.metadata["cort.allowList.keys"] == "1" })
            #expect(reloads.last?.metadata["cort.allowList.keys"] == "2")
            #expect(reloads.allSatisfy { $0.metadata["cort.allowList.trigger"] == "file changed" })
            #expect(reloads.allSatisfy { $0.metadata["cort.allowList.path"] == path })
            // Public keys are not logged.
            #expect(!log.recorder.entries.contains { "\($0.message) \($0.metadata)".contains(keys[0].z85) })

            task.cancel()
            #expect(await arrives { await task.value }, "watch did not end when cancelled")
        }
    }

    @Test("watch logs a failed reload once per change and keeps the keys; a fixed file is taken")
    func watchKeepsKeysOnBrokenFile() async throws {
        try await withDirectory { directory in
            let path = directory.appendingPathComponent("allowed").path
            let keys = try keys(2)
            try "\(keys[0].z85)\n".write(toFile: path, atomically: false, encoding: .utf8)
            let list = try CallerAllowList(contentsOfFile: path)
            let log = WatchLog()
            var timer = WatchTimer(interval: .seconds(20))
            let task = startWatch(list, every: timer.interval, clock: timer.clock, log: log)
            defer { task.cancel() }
            try await timer.started()

            // Renamed over, so that the watch never sees it half written.
            try renameOver(path, "\(keys[0].z85)\nnot a key\n")
            try await timer.tick(2)
            try #require(await arrives { await log.recorder.waitFor("cannot reload the caller allow-list") },
                         "the failed reload was not logged")
            let failure = try #require(log.recorder.entries.first { $0.level == .error })
            #expect(failure.metadata["cort.error"]?.contains("\(path), line 2:") == true, "\(failure.metadata)")
            #expect(failure.metadata["cort.allowList.keys"] == "1")
            #expect(failure.metadata["cort.allowList.trigger"] == "file changed")
            #expect(list.keys == [keys[0]])

            // Ten more checks of the unchanged broken file, then a fixed file.
            // The watch takes its checks in order: the reload of the fixed
            // file comes after the ten, so they were made by then.
            try await timer.tick(10)
            try renameOver(path, "\(keys[1].z85)\n")
            try await timer.tick(2)
            try #require(await arrives { await log.waitFor(1, "reloaded the caller allow-list") },
                         "the fixed file was not reloaded")
            #expect(log.recorder.count(.error) == 1)
            #expect(list.contains(keys[1]))
            #expect(!list.contains(keys[0]))

            task.cancel()
            #expect(await arrives { await task.value }, "watch did not end when cancelled")
        }
    }

    @Test("watch returns at once for a list given in code")
    func watchInCode() async throws {
        let list = CallerAllowList(try keys(1))
        // On a clock that never moves: it would otherwise wait for ever.
        let logger = LogRecorder().logger
        #expect(await arrives { await list.watch(every: .seconds(20), clock: TestClock(), logger: logger) },
                "watch did not return")
        #expect(list.path == nil)
    }

    @Test("SIGHUP reloads a watched list, and the process lives on")
    func sighupReloads() async throws {
        try await withDirectory { directory in
            let path = directory.appendingPathComponent("allowed").path
            let keys = try keys(2)
            try "\(keys[0].z85)\n".write(toFile: path, atomically: false, encoding: .utf8)
            let list = try CallerAllowList(contentsOfFile: path)
            let log = WatchLog()
            // An hour between checks of the file, on a clock that never
            // moves: only the signal can bring the reload.
            let task = startWatch(list, every: .seconds(3600), clock: TestClock(), log: log)
            defer { task.cancel() }
            // The handler is in place once watch says it watches; a SIGHUP before would end the process.
            try #require(await arrives { await log.recorder.waitFor("watching the caller allow-list") },
                         "watch did not start")

            try renameOver(path, "\(keys[1].z85)\n")
            #expect(list.contains(keys[0]))
            #expect(kill(getpid(), SIGHUP) == 0)
            try #require(await arrives { await log.waitFor(1, "reloaded the caller allow-list") },
                         "SIGHUP did not reload the list")
            #expect(list.contains(keys[1]))
            #expect(!list.contains(keys[0]))
            let reload = log.recorder.entries.first { $0.message == "reloaded the caller allow-list" }
            #expect(reload?.metadata["cort.allowList.trigger"] == "SIGHUP")
            #expect(reload?.metadata["cort.allowList.changed"] == "true")

            // A second signal with nothing changed still reloads, and says so.
            #expect(kill(getpid(), SIGHUP) == 0)
            try #require(await arrives { await log.waitFor(2, "reloaded the caller allow-list") },
                         "the second SIGHUP did not reload the list")
            #expect(log.recorder.entries.last?.metadata["cort.allowList.changed"] == "false")
            #expect(log.recorder.entries.last?.metadata["cort.allowList.trigger"] == "SIGHUP")

            task.cancel()
            #expect(await arrives { await task.value }, "watch did not end when cancelled")
        }
    }
}

/// Whether `event` comes within 10 seconds: a deadline for a wait that has
/// none of its own.
private func arrives(_ event: @escaping @Sendable () async -> Void) async -> Bool {
    await within(.seconds(10)) { await event() } != nil
}

/// The timer of a watch, on virtual time: the watch sleeps `interval` on
/// `clock` between checks of its file, and time passes only on ``tick(_:)``.
private struct WatchTimer {
    let clock = TestClock()
    let interval: Duration
    /// The sleeps the watch has asked `clock` for by now: the first, and one
    /// after each tick.
    private var sleeps = 1

    init(interval: Duration) {
        self.interval = interval
    }

    /// Returns once the watch has set its first timer: it has taken the file
    /// as it is, and checks it again at each tick.
    func started() async throws {
        try await timerSet()
    }

    /// Moves the clock on by `count` intervals, one at a time, each time
    /// returning once the watch has set its next timer, which it does right
    /// after queuing that tick's check: the checks are queued one a tick, in
    /// order (the watch may make them later).
    mutating func tick(_ count: Int = 1) async throws {
        for _ in 0..<count {
            clock.advance(by: interval)
            sleeps += 1
            try await timerSet()
        }
    }

    private func timerSet() async throws {
        let (clock, sleeps) = (clock, sleeps)
        try #require(await arrives { await clock.waitForSleeps(sleeps) }, "the watch did not set its timer")
    }
}

/// What a watch logs, kept by a `LogRecorder`, and a wait for the n-th line
/// of a message: the watch logs every reload in the same words, and
/// `LogRecorder.waitFor(_:)` returns at the first.
private final class WatchLog: Sendable {
    let recorder = LogRecorder()
    private let waiters = Mutex<[(text: String, count: Int, continuation: CheckedContinuation<Void, Never>)]>([])

    /// The recorder's logger, which also wakes the waiters a line satisfies.
    var logger: Logger {
        var logger = recorder.logger
        logger.handler = Handler(inner: logger.handler, watchLog: self)
        return logger
    }

    /// Returns once `count` messages containing `text` were logged in all.
    func waitFor(_ count: Int, _ text: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            // Under the lock that `logged()` takes after each line is recorded: no line slips between.
            let done = waiters.withLock { waiters in
                if Self.count(text, in: recorder.entries) >= count { return true }
                waiters.append((text, count, continuation))
                return false
            }
            if done { continuation.resume() }
        }
    }

    private static func count(_ text: String, in entries: [LogRecorder.Entry]) -> Int {
        entries.count { $0.message.contains(text) }
    }

    /// Called after each line is recorded.
    private func logged() {
        let ready = waiters.withLock { waiters in
            let entries = recorder.entries
            var ready: [CheckedContinuation<Void, Never>] = []
            waiters.removeAll { waiter in
                guard Self.count(waiter.text, in: entries) >= waiter.count else { return false }
                ready.append(waiter.continuation)
                return true
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    /// The recorder's handler, then a word to the waiters.
    private struct Handler: LogHandler {
        var inner: any LogHandler
        let watchLog: WatchLog

        var metadata: Logger.Metadata {
            get { inner.metadata }
            set { inner.metadata = newValue }
        }

        var logLevel: Logger.Level {
            get { inner.logLevel }
            set { inner.logLevel = newValue }
        }

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { inner[metadataKey: key] }
            set { inner[metadataKey: key] = newValue }
        }

        func log(event: LogEvent) {
            inner.log(event: event)
            watchLog.logged()
        }
    }
}
