import Cort
import CortZeroMQ
import Foundation

/// A call's envelope frame exactly as a cort caller sends it, captured on the
/// wire, so that a raw socket can replay it (with new call ids) the way a
/// flooding caller would, without speaking cort itself.
///
/// ```swift
/// let frame = try await RawRequestFrame.captureEcho(payloadSize: 64)
/// let next = frame.with(id: 42)      // the same request, call id 42
/// ```
public struct RawRequestFrame: Sendable {
    /// The envelope: `[1, 1, id, ...]` (docs/PROTOCOL.md).
    public let bytes: [UInt8]
    /// Where the id field starts and ends in `bytes`.
    private let idRange: Range<Int>

    /// A frame read back (from hex, say); throws unless it is a version-1 request.
    public init(bytes: [UInt8]) throws {
        // A fixarray of 11, version 1, kind 1 (request), then the id.
        guard bytes.count > 4, bytes[0] == 0x9b, bytes[1] == 0x01, bytes[2] == 0x01 else {
            throw BenchmarkFailure("the captured frame is not a version-1 request")
        }
        let width: Int
        switch bytes[3] {
        case 0x00...0x7f: width = 1
        case 0xcc: width = 2
        case 0xcd: width = 3
        case 0xce: width = 5
        case 0xcf: width = 9
        default: throw BenchmarkFailure("the captured request's id is not a uint")
        }
        self.bytes = bytes
        idRange = 3..<(3 + width)
    }

    /// The same request with call id `id`.
    public func with(id: UInt64) -> [UInt8] {
        var frame = Array(bytes[..<idRange.lowerBound])
        frame.append(0xcf)
        withUnsafeBytes(of: id.bigEndian) { frame.append(contentsOf: $0) }
        frame.append(contentsOf: bytes[idRange.upperBound...])
        return frame
    }

    /// The frame of `Echo.echo(_:)` with a payload of `payloadSize` bytes and
    /// the caller's default deadline, captured from a real caller by a plain
    /// ROUTER that answers its ping.
    public static func captureEcho(payloadSize: Int) async throws -> RawRequestFrame {
        let context = try ZeroMQContext()
        let router = try ZeroMQSocket(.router, context: context)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let discovery = try StaticDiscovery([Echo.serviceName: [endpoint]])
        let system = try CortSystem.start(.init(name: "capture", discovery: discovery, defaultTimeout: .seconds(10)))
        let echo = try Echo.resolve(id: .service(Echo.serviceName), using: system)
        let call = Task { try await echo.echo([UInt8](repeating: 0x5a, count: payloadSize)) }
        defer { call.cancel() }
        let deadline = ContinuousClock.now + .seconds(10)
        var captured: [UInt8]?
        // Bounded by the deadline: the caller pings, then sends the call once answered.
        while captured == nil, ContinuousClock.now < deadline {
            guard try router.poll(.readable, timeout: .milliseconds(100)).contains(.readable),
                  let message = try router.tryReceive(), message.count == 2 else { continue }
            let frames = message.copyFrames()
            let envelope = frames[1]
            guard envelope.count > 3 else { continue }
            switch envelope[2] {
            case 0x05:
                // pong: [1, 6, seq, freeSlots, incarnation], the ping's sequence bytes reused.
                let pong: [UInt8] = [0x95, 0x01, 0x06] + envelope[3...] + [0x10, 0x01]
                _ = try router.trySend(ZeroMQMessage([frames[0], pong]))
            case 0x01:
                captured = envelope
            default:
                continue
            }
        }
        call.cancel()
        _ = await call.result
        await system.shutdown()
        guard let captured else { throw BenchmarkFailure("no request was captured within 10 s") }
        return try RawRequestFrame(bytes: captured)
    }
}

/// A process's resident memory, from /proc (Linux).
public enum ProcessMemory {
    /// `VmRSS` (now) and `VmHWM` (the peak), in bytes, of process `pid`.
    public static func resident(of pid: Int32) -> (now: Int, peak: Int)? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func kilobytes(_ field: String) -> Int? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return nil }
            return line.split(separator: " ").compactMap { Int($0) }.first
        }
        guard let now = kilobytes("VmRSS"), let peak = kilobytes("VmHWM") else { return nil }
        return (now * 1024, peak * 1024)
    }
}
