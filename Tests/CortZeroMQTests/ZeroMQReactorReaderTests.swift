import Synchronization
import Testing
@testable import CortZeroMQ

/// A socket the reactor's loop reads itself (`ZeroMQReactor.read(_:isolation:turn:)`),
/// as a node reads its ROUTER.
@Suite struct ZeroMQReactorReaderTests {
    /// Every message is read, in order, on the loop's thread, at most a
    /// turn's bound at a time; a job queued during a flood runs before the
    /// flood is read to its end.
    @Test func aReaderReadsEveryMessageInBoundedTurnsBesideOtherJobs() async throws {
        let rig = try ReaderRig()
        defer { rig.reactor.shutdown() }
        let (reactor, context, endpoint) = (rig.reactor, rig.context, rig.endpoint)
        let node = ReadingActor(reactor: reactor, perTurn: 4)
        try await node.open(context: context, bind: endpoint)
        let count = 1000
        // Queued before the reader starts: one readable edge for all of them.
        _ = try pusher(context, to: endpoint, queuing: count)
        let reading = Task { try await cancelledAfter(.seconds(30)) { try await node.read(until: count) } }
        let report = try await reading.value
        #expect(report.frames.count == count)
        #expect(report.frames.elementsEqual((0..<count).map { bytes("\($0)") }))
        #expect(report.allOnLoopThread)
        #expect(report.mostInATurn <= 4)
        #expect(report.turns >= count / 4)
        // Queued by the first turn: it ran while most of the flood was still unread.
        let jobRanAt = try #require(report.jobRanAtTurn)
        #expect(jobRanAt < report.turns / 2, "the job ran at turn \(jobRanAt) of \(report.turns)")
        #expect(await reactor.readerCount() == 0)
    }

    /// Messages that arrive while the reader waits are read as they come.
    @Test func aReaderReadsMessagesThatArriveLater() async throws {
        let rig = try ReaderRig()
        defer { rig.reactor.shutdown() }
        let (node, push) = try await rig.readingActor(perTurn: 16)
        let count = 200
        let reading = try await startReading(node, until: count)
        try queue(count, on: push)
        let report = try await reading.value
        #expect(report.frames.count == count)
        #expect(report.frames.elementsEqual((0..<count).map { bytes("\($0)") }))
        #expect(report.allOnLoopThread)
    }

    /// Cancelling the reading task removes the reader: the next message
    /// stays in the socket for an ordinary receive.
    @Test func cancellingTheReadingTaskRemovesTheReader() async throws {
        let rig = try ReaderRig()
        defer { rig.reactor.shutdown() }
        let reactor = rig.reactor
        let (node, push) = try await rig.readingActor(perTurn: 16)
        let reading = try await startReading(node, until: .max)
        reading.cancel()
        let report = try await reading.value
        #expect(report.frames.isEmpty)
        #expect(await reactor.readerCount() == 0)
        #expect(await reactor.waiterCount() == 0)
        try await expectOrdinaryReceive(of: "after", from: push, by: node)
        #expect(await node.turns == 0)
    }

    /// A turn that says `.stop` is not called again, and its `read` returns.
    @Test func aTurnThatStopsEndsTheRead() async throws {
        let rig = try ReaderRig()
        defer { rig.reactor.shutdown() }
        let reactor = rig.reactor
        let (node, push) = try await rig.readingActor(perTurn: 16, stopAfterTurns: 1)
        let reading = try await startReading(node, until: .max)
        #expect(try push.trySend(ZeroMQMessage([bytes("one")])) == nil)
        let report = try await reading.value
        #expect(report.turns == 1)
        #expect(await reactor.readerCount() == 0)
        try await expectOrdinaryReceive(of: "two", from: push, by: node)
        #expect(await node.turns == 1)
    }

    /// The shutdown ends a read with `reactorShutDown`.
    @Test func shutdownEndsARead() async throws {
        let rig = try ReaderRig()
        let (reactor, context) = (rig.reactor, rig.context)
        let node = ReadingActor(reactor: reactor, perTurn: 16)
        try await node.open(context: context, bind: uniqueInproc())
        let reading = try await startReading(node, until: .max)
        await reactor.stop()
        do {
            _ = try await reading.value
            Issue.record("the read survived the shutdown")
        } catch let error as ZeroMQError {
            #expect(error.code == .reactorShutDown)
        }
    }

    @Test func aReadOffTheReactorThreadThrows() async throws {
        let rig = try ReaderRig()
        defer { rig.reactor.shutdown() }
        let (reactor, context) = (rig.reactor, rig.context)
        let socket = try ZeroMQSocket(.pull, context: context, reactor: reactor)
        do {
            try await reactor.read(socket, isolation: nil) { .drained }
            Issue.record("a read ran off the reactor")
        } catch let error as ZeroMQError {
            #expect(error.code == .wrongThread)
        }
    }
}

/// A reactor, a context and an inproc endpoint, for one test.
struct ReaderRig {
    let reactor: ZeroMQReactor
    let context: ZeroMQContext
    let endpoint = uniqueInproc()

    init() throws {
        reactor = try ZeroMQReactor.start()
        context = try ZeroMQContext()
    }

    /// A ``ReadingActor`` bound at `endpoint`, and a PUSH connected to it.
    func readingActor(perTurn: Int, stopAfterTurns: Int? = nil) async throws -> (ReadingActor, ZeroMQSocket) {
        let node = ReadingActor(reactor: reactor, perTurn: perTurn, stopAfterTurns: stopAfterTurns)
        try await node.open(context: context, bind: endpoint)
        return (node, try pusher(context, to: endpoint))
    }
}

/// What a reader read, and how.
struct ReaderReport: Sendable {
    var frames: [[UInt8]] = []
    var turns = 0
    var mostInATurn = 0
    var allOnLoopThread = true
    /// The turn during which a job queued by the first turn had run.
    var jobRanAtTurn: Int?
}

extension ReaderReport {
    /// Reads up to `bound` frames from `socket`, as one turn; how many it read.
    mutating func read(_ socket: ZeroMQSocket, upTo bound: Int) -> Int {
        var read = 0
        while read < bound, let message = try? socket.tryReceive() {
            frames.append(message.frame(at: 0))
            read += 1
        }
        mostInATurn = max(mostInATurn, read)
        return read
    }
}

/// A PUSH without a reactor connected to `endpoint`, with `count` messages
/// ("0", "1", …) queued on it.
func pusher(_ context: ZeroMQContext, to endpoint: String, queuing count: Int = 0) throws -> ZeroMQSocket {
    let push = try ZeroMQSocket(.push, context: context)
    try push.set(.sendHighWaterMark, 0)
    try push.connect(endpoint)
    try queue(count, on: push)
    return push
}

/// Queues messages "0" to "count - 1" on `push`.
func queue(_ count: Int, on push: ZeroMQSocket) throws {
    for index in 0..<count {
        #expect(try push.trySend(ZeroMQMessage([bytes("\(index)")])) == nil)
    }
}

/// An actor on the reactor with a PULL socket that its loop reads.
actor ReadingActor {
    let reactor: ZeroMQReactor
    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }
    let perTurn: Int
    let stopAfterTurns: Int?
    private var socket: ZeroMQSocket?
    private var report = ReaderReport()
    private var target = 0
    private var jobRan = false

    init(reactor: ZeroMQReactor, perTurn: Int, stopAfterTurns: Int? = nil) {
        self.reactor = reactor
        self.perTurn = perTurn
        self.stopAfterTurns = stopAfterTurns
    }

    var turns: Int { report.turns }

    func open(context: ZeroMQContext, bind endpoint: String) throws {
        let socket = try ZeroMQSocket(.pull, context: context, reactor: reactor)
        try socket.set(.receiveHighWaterMark, 0)
        try socket.bind(endpoint)
        self.socket = socket
    }

    /// Reads until `count` frames came (the turn then stops the read), the
    /// task is cancelled, or the reactor shuts down; returns what it saw.
    func read(until count: Int) async throws -> ReaderReport {
        target = count
        try await reactor.read(socket!, isolation: self) { [self] in self.assumeIsolated { $0.turn() } }
        return report
    }

    private func turn() -> ZeroMQReactor.ReaderTurn {
        report.turns += 1
        report.allOnLoopThread = report.allOnLoopThread && reactor.isOnReactorThread
        if report.turns == 1 {
            // A closure job on the loop's thread: isolated to this actor too.
            reactor.execute { [self] in self.assumeIsolated { $0.jobRan = true } }
        }
        if report.jobRanAtTurn == nil, jobRan { report.jobRanAtTurn = report.turns }
        let read = report.read(socket!, upTo: perTurn)
        if report.frames.count >= target { return .stop }
        if let stopAfterTurns, report.turns >= stopAfterTurns { return .stop }
        return read < perTurn ? .drained : .more
    }

    /// One message by an ordinary receive.
    func receiveOne() async throws -> [[UInt8]] {
        let message = try await socket!.receive()
        return (0..<message.count).map { message.frame(at: $0) }
    }
}

/// Starts `node.read(until:)` in a task, bounded by 30 s, and waits until
/// its reader is registered.
func startReading(_ node: ReadingActor, until count: Int) async throws -> Task<ReaderReport, any Error> {
    let reading = Task { try await cancelledAfter(.seconds(30)) { try await node.read(until: count) } }
    try await waitForReaders(node.reactor, count: 1)
    return reading
}

/// Sends `text` on `push` and expects an ordinary receive of `node` to get
/// it: no reader took it.
func expectOrdinaryReceive(of text: String, from push: ZeroMQSocket, by node: ReadingActor) async throws {
    #expect(try push.trySend(ZeroMQMessage([bytes(text)])) == nil)
    #expect(try await cancelledAfter(.seconds(30)) { try await node.receiveOne() } == [bytes(text)])
}

/// Waits until the reactor has `count` readers, at most 30 s.
func waitForReaders(_ reactor: ZeroMQReactor, count: Int) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while ContinuousClock.now < deadline {
        if await reactor.readerCount() == count { return }
        await Task.yield()
    }
    Issue.record("the reactor never had \(count) reader(s)")
}

/// Runs `body`, cancelled with the calling task or if it runs past
/// `timeout`: a read that is never called ends then, with what it saw, and
/// the test's checks fail.
func cancelledAfter<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let task = Task { try await body() }
    let timer = Task {
        try await Task.sleep(for: timeout)
        task.cancel()
    }
    defer { timer.cancel() }
    return try await withTaskCancellationHandler {
        try await task.value
    } onCancel: {
        task.cancel()
    }
}

/// A socket owned off the reactor, read through its descriptor
/// (`ZeroMQReactor.read(descriptor:isolation:turn:)`), as a caller's
/// `RemoteService` reads its ROUTER.
@Suite struct ZeroMQReactorDescriptorReaderTests {
    /// The descriptor signals once for all that is queued: a turn that
    /// stopped at its bound is called again anyway, until all is read.
    @Test func aDescriptorReaderReadsEverythingInBoundedTurns() async throws {
        let rig = try ReaderRig()
        defer { rig.reactor.shutdown() }
        let (reactor, context, endpoint) = (rig.reactor, rig.context, rig.endpoint)
        let owner = try LockedPull(context: context, bind: endpoint, perTurn: 4, stopAt: 300)
        _ = try pusher(context, to: endpoint, queuing: 300)
        try await owner.read(on: reactor)
        let report = owner.report
        #expect(report.frames.count == 300)
        #expect(report.frames.elementsEqual((0..<300).map { bytes("\($0)") }))
        #expect(report.mostInATurn <= 4)
        #expect(report.allOnLoopThread)
        #expect(await reactor.readerCount() == 0)
        #expect(await reactor.waiterCount() == 0)
    }

    /// Cancelling the reading task removes the reader and its wait.
    @Test func cancellingADescriptorReadRemovesTheReader() async throws {
        let rig = try ReaderRig()
        defer { rig.reactor.shutdown() }
        let (reactor, context) = (rig.reactor, rig.context)
        let owner = try LockedPull(context: context, bind: uniqueInproc(), perTurn: 4, stopAt: .max)
        let reading = try await owner.startReading(on: reactor)
        reading.cancel()
        try await reading.value
        #expect(await reactor.readerCount() == 0)
        #expect(await reactor.waiterCount() == 0)
    }

    /// The shutdown ends a descriptor read with `reactorShutDown`.
    @Test func shutdownEndsADescriptorRead() async throws {
        let rig = try ReaderRig()
        let (reactor, context) = (rig.reactor, rig.context)
        let owner = try LockedPull(context: context, bind: uniqueInproc(), perTurn: 4, stopAt: .max)
        let reading = try await owner.startReading(on: reactor)
        await reactor.stop()
        do {
            try await reading.value
            Issue.record("the read survived the shutdown")
        } catch let error as ZeroMQError {
            #expect(error.code == .reactorShutDown)
        }
    }
}

/// A PULL socket without a reactor, behind a lock, and what its turns read.
final class LockedPull: Sendable {
    let descriptor: Int32
    private let perTurn: Int
    private let stopAt: Int
    private let state: Mutex<(socket: ZeroMQSocket, report: ReaderReport)>

    init(context: ZeroMQContext, bind endpoint: String, perTurn: Int, stopAt: Int) throws {
        let socket = try ZeroMQSocket(.pull, context: context)
        try socket.set(.receiveHighWaterMark, 0)
        try socket.bind(endpoint)
        descriptor = try socket.get(.descriptor)
        self.perTurn = perTurn
        self.stopAt = stopAt
        state = Mutex((socket, ReaderReport()))
    }

    var report: ReaderReport { state.withLock { $0.report } }

    /// Reads through `reactor` until a turn stops, bounded by 30 s.
    func read(on reactor: ZeroMQReactor) async throws {
        try await cancelledAfter(.seconds(30)) {
            try await reactor.read(descriptor: self.descriptor, isolation: nil) { self.turn(reactor) }
        }
    }

    /// ``read(on:)`` in a task, once its reader is registered.
    func startReading(on reactor: ZeroMQReactor) async throws -> Task<Void, any Error> {
        let reading = Task { try await read(on: reactor) }
        try await waitForReaders(reactor, count: 1)
        return reading
    }

    func turn(_ reactor: ZeroMQReactor) -> ZeroMQReactor.ReaderTurn {
        state.withLock { state in
            state.report.turns += 1
            state.report.allOnLoopThread = state.report.allOnLoopThread && reactor.isOnReactorThread
            let read = state.report.read(state.socket, upTo: perTurn)
            if state.report.frames.count >= stopAt { return .stop }
            return read < perTurn ? .drained : .more
        }
    }
}
