import CortZeroMQ
import Logging

/// The ZeroMQ Authentication Protocol handler of a CURVE node (RFC 27): libzmq
/// asks it about every client that connects, and it lets in only those
/// whose public key is in the node's ``CallerAllowList``.
///
/// It is an actor on the system's reactor, reading a ROUTER bound at
/// `inproc://zeromq.zap.01` in the system's own ZeroMQ context, so it needs
/// no thread of its own. A client it lets in is tagged with its public key
/// as ZAP's user id (Z85 text), which the node reads on every request
/// (`User-Id`); a client it refuses gets no session at all: no frame of its
/// reaches the node, and it learns nothing but that the handshake failed.
actor ZAPHandler {
    /// Where libzmq sends ZAP requests, in every context.
    static let endpoint = "inproc://zeromq.zap.01"
    /// The ZAP domain cort's nodes set on their sockets.
    static let domain = "cort"

    struct Counters: Sendable {
        var allowed = 0
        var refused = 0
        var malformed = 0
    }

    let reactor: ZeroMQReactor
    let socket: ZeroMQSocket
    let allowList: CallerAllowList
    var rateLimited: RateLimitedLog
    let clock: RuntimeClock
    var counters = Counters()

    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }

    init(system: CortSystem, allowList: CallerAllowList) throws {
        reactor = system.reactor
        clock = system.clock
        self.allowList = allowList
        rateLimited = RateLimitedLog(logger: system.logger)
        socket = try ZeroMQSocket(.router, context: system.context, reactor: system.reactor)
        // A connecting stranger's handshake waits for the answer, and libzmq
        // queues its requests; do not drop one, it would hang that handshake.
        try socket.set(.receiveHighWaterMark, 0)
        try socket.set(.sendHighWaterMark, 0)
        do {
            _ = try socket.bind(Self.endpoint)
        } catch {
            throw ConfigurationError(.invalidKey, "cannot start the CURVE authentication handler: \(error)",
                                     cause: error as? ZeroMQError)
        }
    }

    /// Answers requests until the reactor stops.
    func run() async {
        var handledSinceYield = 0
        while true {
            let request: ZeroMQMessage
            do {
                request = try await socket.receive()
            } catch {
                return
            }
            if var reply = answer(request) {
                do {
                    if try !socket.trySend(&reply) { try await socket.send(reply) }
                } catch {
                    rateLimited.log(.debug, "zap-reply", "cannot answer a ZAP request",
                                    metadata: ["cort.error": "\(error)"], at: clock.now)
                }
            }
            handledSinceYield += 1
            if handledSinceYield == NodeServer.framesPerTurn {
                // Strangers connecting in a loop must not hold the reactor.
                handledSinceYield = 0
                await reactor.yieldTurn(isolation: self)
            }
        }
    }

    /// The reply to one request: `[routing id, "", "1.0", request id, status, text, user id, metadata]`.
    func answer(_ request: borrowing ZeroMQMessage) -> ZeroMQMessage? {
        // [routing id, "", version, request id, domain, address, identity, mechanism, credentials…]
        guard request.count >= 8, request.frameSize(at: 1) == 0 else {
            counters.malformed += 1
            return nil
        }
        let version = request.withFrame(at: 2) { Array($0) }
        let requestID = request.frame(at: 3)
        let routingID = request.frame(at: 0)
        func reply(_ status: String, _ text: String, userID: String = "") -> ZeroMQMessage {
            var message = ZeroMQMessage(frameCapacity: 8)
            message.append(routingID)
            message.append([])
            message.append("1.0")
            message.append(requestID)
            message.append(status)
            message.append(text)
            message.append(userID)
            message.append([])
            return message
        }
        guard version == Array("1.0".utf8) else {
            counters.malformed += 1
            return reply("500", "unsupported ZAP version")
        }
        let mechanism = request.withFrame(at: 7) { String(decoding: $0, as: UTF8.self) }
        let address = request.withFrame(at: 5) { String(decoding: $0.prefix(64), as: UTF8.self) }
        guard mechanism == "CURVE", request.count == 9, request.frameSize(at: 8) == 32,
              let key = try? CurveKey(rawBytes: request.frame(at: 8)) else {
            counters.refused += 1
            rateLimited.log(.warning, "zap-mechanism", "refused a connection that does not use CURVE",
                            metadata: ["cort.peer.address": "\(address)"], at: clock.now)
            return reply("400", "refused")
        }
        guard allowList.contains(key) else {
            counters.refused += 1
            // A stranger can connect in a loop: one line per interval, with
            // what an operator needs to let it in if it should be.
            rateLimited.log(.warning, "zap-refused", "refused a caller whose key is not allowed",
                            metadata: ["cort.peer.address": "\(address)", "cort.caller.key": "\(key.z85)"],
                            at: clock.now)
            return reply("400", "refused")
        }
        counters.allowed += 1
        return reply("200", "OK", userID: key.z85)
    }
}
