import CortMessagePack
import CortZeroMQ
import Foundation
import Synchronization

/// A prototype of the caller that issue 11's closing notes propose, to
/// measure what it would cost, not a caller to use: no node list, no
/// health, no failover, no deadlines, no cancellation.
///
/// A call suspends once, on its own continuation. Inside that suspension,
/// under one lock, it takes an id, files the continuation under it and sends
/// the request: no actor to enter, no slot between the answer and the
/// caller. The reactor waits for the socket's descriptor and, under the same
/// lock, reads every answer there is; the continuations are resumed after
/// the lock is let go, on the global pool (where the callers run). The lock
/// makes the one DEALER safe to share: libzmq asks only that one thread at
/// a time uses a socket, with a full memory barrier between them. (Its
/// "reactor" is a thread of its own asleep in poll(2) on the socket's
/// descriptor, as cort's reactor would be; cort's waits for a descriptor
/// are not public.)
///
/// Like cort's caller it encodes each request (here: the captured frame of
/// `Echo.echo(_:)` with a new id, built in a new array) and decodes each
/// result (`[UInt8]`, through `MessagePackDecoder`); and like cort's
/// `RemoteService` it reads the socket after each of its sends, since a
/// send may take the signal of an answer that arrived (see
/// `ZeroMQSocket.readiness()`).
public final class LeanCaller: @unchecked Sendable {
    // @unchecked: `socket` is used only under `state`'s lock (its descriptor
    // was read in init), `stopped` is atomic, the rest is immutable.
    private struct State: ~Copyable {
        var nextID: UInt64 = 1
        var pending: [UInt64: UnsafeContinuation<[UInt8], any Error>] = [:]
        /// Answers read under the lock, resumed after it.
        var ready: [(UnsafeContinuation<[UInt8], any Error>, [UInt8])] = []
    }

    private let context: ZeroMQContext
    private let socket: ZeroMQSocket
    private let descriptor: Int32
    private let stopped = Atomic<Bool>(false)
    private let receiverDone = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let request: RawRequestFrame
    private let state = Mutex(State())
    private let decoder = MessagePackDecoder()

    /// Connects to the cort node at `endpoint`, calling `request` (a captured
    /// `Echo.echo(_:)`, ``RawRequestFrame/captureEcho(payloadSize:)``).
    public init(connectingTo endpoint: String, request: RawRequestFrame) throws {
        context = try ZeroMQContext()
        socket = try ZeroMQSocket(.dealer, context: context)
        try socket.set(.sendHighWaterMark, 0)
        try socket.connect(endpoint)
        descriptor = try socket.get(.descriptor)
        self.request = request
        let thread = Thread { [self] in receive() }
        thread.name = "lean-caller"
        thread.start()
    }

    /// The receiving thread: asleep in poll(2) until the descriptor signals,
    /// then reads every answer (checked every 50 ms for a stop).
    private func receive() {
        while !stopped.load(ordering: .acquiring) {
            readAnswers()
            var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, 50)
        }
        receiverDone.withLock { $0.take() }?.resume()
    }

    /// One call of `Echo.echo(_:)`: its result.
    public func call() async throws -> [UInt8] {
        let reply = try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<[UInt8], any Error>) in
            let frame = state.withLock { state -> [UInt8] in
                let id = state.nextID
                state.nextID &+= 1
                state.pending[id] = continuation
                return request.with(id: id)
            }
            send(frame)
        }
        return try decoder.decode([UInt8].self, from: reply)
    }

    private func send(_ frame: [UInt8]) {
        var failed: (any Error)?
        state.withLock { state in
            do {
                _ = try socket.trySend(ZeroMQMessage([frame]))
            } catch {
                failed = error
            }
            Self.read(socket, into: &state)
        }
        resumeReady()
        if let failed { preconditionFailure("the lean caller could not send: \(failed)") }
    }

    private func readAnswers() {
        state.withLock { state in Self.read(socket, into: &state) }
        resumeReady()
    }

    /// Reads every answer waiting (an id the caller does not know is dropped).
    private static func read(_ socket: ZeroMQSocket, into state: inout State) {
        while let message = try? socket.tryReceive() {
            guard message.count == 1,
                  let (id, result) = message.withFrame(at: 0, { Self.reply($0) }),
                  let continuation = state.pending.removeValue(forKey: id) else { continue }
            state.ready.append((continuation, result))
        }
    }

    private func resumeReady() {
        let ready = state.withLock { state -> [(UnsafeContinuation<[UInt8], any Error>, [UInt8])] in
            guard !state.ready.isEmpty else { return [] }
            defer { state.ready.removeAll(keepingCapacity: true) }
            return state.ready
        }
        for (continuation, result) in ready { continuation.resume(returning: result) }
    }

    /// A reply `[1, 2, id, result]`: the id and the result's bytes.
    private static func reply(_ bytes: UnsafeRawBufferPointer) -> (UInt64, [UInt8])? {
        guard bytes.count > 4, bytes[0] == 0x94, bytes[1] == 0x01, bytes[2] == 0x02 else { return nil }
        var id: UInt64 = 0
        let width: Int
        switch bytes[3] {
        case 0x00...0x7f: (id, width) = (UInt64(bytes[3]), 1)
        case 0xcc: width = 2
        case 0xcd: width = 3
        case 0xce: width = 5
        case 0xcf: width = 9
        default: return nil
        }
        guard bytes.count > 3 + width else { return nil }
        if width > 1 {
            for index in 4..<(3 + width) { id = id << 8 | UInt64(bytes[index]) }
        }
        return (id, Array(bytes[(3 + width)...]))
    }

    /// `count` calls, one at a time: each one's time.
    public func latencies(_ count: Int) async throws -> [Duration] {
        try await CallLoops.latencies(count) { _ = try await call() }
    }

    /// `count` calls from `window` tasks on the global pool, each calling in turn.
    public func windowed(_ count: Int, window: Int) async throws {
        try await CallLoops.windowed(count, window: window) { _ = try await self.call() }
    }

    /// Stops the receiving thread.
    public func stop() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            receiverDone.withLock { $0 = continuation }
            stopped.store(true, ordering: .releasing)
        }
    }
}
