import CEchoBaseline
#if canImport(Glibc)
import Glibc
#endif

/// The C DEALER -> ROUTER echo baseline (see `CEchoBaseline.h`), owned by one
/// thread at a time like the sockets inside it.
public final class CEcho {
    fileprivate let handle: OpaquePointer
    private let payload: [UInt8]

    public init(payloadSize: Int) throws {
        guard let handle = cort_echo_start() else { throw BenchmarkFailure("cort_echo_start failed") }
        self.handle = handle
        self.payload = [UInt8](repeating: 0x5a, count: payloadSize)
    }

    /// Client only: connects a DEALER to the echo ROUTER of a
    /// `cort-echo-server` process at `endpoint`. Its receives time out after
    /// 5 seconds, so a server that never answers fails the run.
    public init(connectingTo endpoint: String, payloadSize: Int) throws {
        guard let handle = cort_echo_connect(endpoint) else { throw BenchmarkFailure("cort_echo_connect(\(endpoint)) failed") }
        self.handle = handle
        self.payload = [UInt8](repeating: 0x5a, count: payloadSize)
    }

    deinit { cort_echo_stop(handle) }

    /// `count` blocking round trips, one in flight.
    public func roundTrips(_ count: Int) throws {
        let error = payload.withUnsafeBytes {
            cort_echo_roundtrips(handle, $0.baseAddress, $0.count, Int32(count))
        }
        if error != 0 { throw BenchmarkFailure("C echo failed: errno \(error)") }
    }

    /// `count` round trips, one in flight, each timed.
    public func latencies(_ count: Int) throws -> [Duration] {
        try Self.timeEach(count) { try roundTrips(1) }
    }

    /// How long each of `count` runs of `body` took.
    private static func timeEach(_ count: Int, _ body: () throws -> Void) throws -> [Duration] {
        let clock = ContinuousClock()
        var latencies: [Duration] = []
        latencies.reserveCapacity(count)
        for _ in 0..<count {
            let start = clock.now
            try body()
            latencies.append(clock.now - start)
        }
        return latencies
    }

    /// `count` round trips with up to `window` in flight.
    public func windowed(_ count: Int, window: Int) throws {
        let error = payload.withUnsafeBytes {
            cort_echo_windowed(handle, $0.baseAddress, $0.count, Int32(count), Int32(window))
        }
        if error != 0 { throw BenchmarkFailure("C echo failed: errno \(error)") }
    }
}

/// Request envelopes for a plain C caller of a cort node: one per call in
/// flight, the one at index k with call id k + 1.
public struct CallFrames: Sendable {
    fileprivate let joined: [UInt8]
    fileprivate let length: Int
    public let window: Int

    public init(_ request: RawRequestFrame, window: Int) {
        let frames = (1...UInt64(max(window, 1))).map { request.with(id: $0) }
        length = frames[0].count
        joined = frames.flatMap { $0 }
        self.window = frames.count
    }
}

extension CEcho {
    /// `count` calls to a cort node (or `cort-echo-server ENDPOINT cort`),
    /// as a plain C caller makes them, with up to `frames.window` in flight:
    /// the node's side of a call measured without cort's caller.
    public func calls(_ frames: CallFrames, count: Int) throws {
        let error = frames.joined.withUnsafeBytes {
            cort_echo_calls(handle, $0.baseAddress, frames.length, Int32(frames.window), Int32(count))
        }
        if error == EPROTO { throw BenchmarkFailure("the node answered a call with something else than a reply") }
        if error != 0 { throw BenchmarkFailure("C calls failed: errno \(error)") }
    }

    /// `count` calls, one in flight, each timed.
    public func callLatencies(_ frames: CallFrames, count: Int) throws -> [Duration] {
        try Self.timeEach(count) { try calls(frames, count: 1) }
    }

    /// A plain C caller of the cort node at `endpoint`, warmed up, and
    /// `request` (a captured call, ``RawRequestFrame/captureEcho(payloadSize:)``)
    /// as the frames it keeps `window` of in flight.
    public static func callerOfNode(at endpoint: String, request: RawRequestFrame,
                                    window: Int) throws -> (CEcho, CallFrames) {
        let caller = try CEcho(connectingTo: endpoint, payloadSize: PingPongDefaults.payloadSize)
        try caller.calls(CallFrames(request, window: 1), count: 100)
        return (caller, CallFrames(request, window: window))
    }
}

/// A benchmark set-up that could not run.
public struct BenchmarkFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
