import Testing
@testable import CortZeroMQ

@Suite struct ZeroMQSocketTests {
    @Test(arguments: ["tcp://127.0.0.1:*", "inproc"])
    func routerDealerRoundTrip(transport: String) throws {
        let context = try ZeroMQContext()
        let router = try ZeroMQSocket(.router, context: context)
        try router.set(.routerMandatory, true)
        let endpoint = try router.bind(transport == "inproc" ? uniqueInproc() : transport)
        if transport != "inproc" { #expect(!endpoint.hasSuffix(":*") && endpoint.hasPrefix("tcp://127.0.0.1:")) }
        #expect(router.lastEndpoint == endpoint)

        let dealer = try ZeroMQSocket(.dealer, context: context)
        try dealer.set(.routingID, bytes("dealer-1"))
        try dealer.connect(endpoint)
        #expect(try dealer.trySend(ZeroMQMessage([bytes("hello"), bytes("world")])) == nil)

        var request = try #require(try receiveFrames(router))
        #expect(request == [bytes("dealer-1"), bytes("hello"), bytes("world")])
        request[2] = bytes("back")
        #expect(try router.trySend(ZeroMQMessage(request)) == nil)
        #expect(try receiveFrames(dealer) == [bytes("hello"), bytes("back")])
    }

    @Test(arguments: ["tcp://127.0.0.1:*", "inproc"])
    func routerRouterRoundTrip(transport: String) throws {
        let context = try ZeroMQContext()
        let server = try ZeroMQSocket(.router, context: context)
        try server.set(.routerMandatory, true)
        try server.set(.routingID, bytes("server"))
        let endpoint = try server.bind(transport == "inproc" ? uniqueInproc() : transport)

        let client = try ZeroMQSocket(.router, context: context)
        try client.set(.routerMandatory, true)
        try client.set(.routingID, bytes("client"))
        try client.set(.connectRoutingID, bytes("server"))
        try client.connect(endpoint)

        try sendWhenRoutable(client, [bytes("server"), bytes("call-1"), bytes("payload")], peer: server)
        #expect(try receiveFrames(server) == [bytes("client"), bytes("call-1"), bytes("payload")])
        #expect(try server.trySend(ZeroMQMessage([bytes("client"), bytes("call-1"), bytes("reply")])) == nil)
        #expect(try receiveFrames(client) == [bytes("server"), bytes("call-1"), bytes("reply")])
    }

    /// `tryReceiveIfSignalled()` skips libzmq while the descriptor is quiet
    /// after a receive that found nothing, and misses no message: not the
    /// one that signals, nor one queued behind it without a signal of its own.
    @Test func receiveIfSignalledAsksLibzmqOnlyWhenSomethingCame() throws {
        let (receiver, sender, descriptor) = try quietPair()
        let quiet = receiver.activity.operations
        #expect(try receiver.tryReceiveIfSignalled() == nil)
        #expect(try receiver.tryReceiveIfSignalled() == nil)
        #expect(receiver.activity.operations == quiet, "a quiet descriptor still made a call into libzmq")

        #expect(try sender.trySend(ZeroMQMessage([bytes("one")])) == nil)
        #expect(try sender.trySend(ZeroMQMessage([bytes("two")])) == nil)
        #expect(waitUntilReadable(descriptor, within: .seconds(5)))
        #expect(try receiver.tryReceiveIfSignalled()?.copyFrames() == [bytes("one")])
        #expect(try receiver.tryReceiveIfSignalled()?.copyFrames() == [bytes("two")])
        #expect(try receiver.tryReceiveIfSignalled() == nil)

        #expect(try sender.trySend(ZeroMQMessage([bytes("three")])) == nil)
        #expect(waitUntilReadable(descriptor, within: .seconds(5)))
        #expect(try receiver.tryReceiveIfSignalled()?.copyFrames() == [bytes("three")])
        #expect(try receiver.tryReceiveIfSignalled() == nil)
    }

    /// The reactor reads what a socket is ready for without a counted call,
    /// and that takes the signal off the descriptor: the message it found
    /// is still received (a node's connection monitor went unread for 30 s
    /// beside CPU hogs when it was not).
    @Test func receiveIfSignalledSeesAMessageTheReactorFound() throws {
        let (receiver, sender, descriptor) = try quietPair()
        #expect(try sender.trySend(ZeroMQMessage([bytes("event")])) == nil)
        #expect(waitUntilReadable(descriptor, within: .seconds(5)))
        // As the reactor does before it sleeps, or when the descriptor signals.
        let events = try #require(receiver.activity.readEvents(of: receiver.rawHandle))
        #expect(ZeroMQSocket.Events(rawValue: events).contains(.readable))
        #expect(!waitUntilReadable(descriptor, within: .zero), "reading the events took the signal")
        #expect(try receiver.tryReceiveIfSignalled()?.copyFrames() == [bytes("event")])
        #expect(try receiver.tryReceiveIfSignalled() == nil)
    }

    /// A PAIR whose last call was a receive that found nothing, its peer,
    /// and its descriptor (`ZMQ_FD`).
    private func quietPair() throws -> (receiver: ZeroMQSocket, sender: ZeroMQSocket, descriptor: Int32) {
        let context = try ZeroMQContext()
        let receiver = try ZeroMQSocket(.pair, context: context)
        let endpoint = uniqueInproc()
        try receiver.bind(endpoint)
        let sender = try ZeroMQSocket(.pair, context: context)
        try sender.connect(endpoint)
        let descriptor = try receiver.get(.descriptor)
        #expect(try receiver.tryReceive() == nil)
        return (receiver, sender, descriptor)
    }

    @Test func routerMandatoryRefusesUnknownPeerAndKeepsTheMessage() throws {
        let context = try ZeroMQContext()
        let router = try ZeroMQSocket(.router, context: context)
        try router.set(.routerMandatory, true)
        try router.bind("tcp://127.0.0.1:*")
        var message = ZeroMQMessage([bytes("nobody"), bytes("payload")])
        do {
            _ = try router.trySend(&message)
            Issue.record("send to an unknown peer succeeded")
        } catch let error as ZeroMQError {
            #expect(error.code == .hostUnreachable)
        }
        #expect(message.copyFrames() == [bytes("nobody"), bytes("payload")])
    }

    @Test func fullPipeGivesTheMessageBack() throws {
        let context = try ZeroMQContext()
        let endpoint = uniqueInproc()
        let pull = try ZeroMQSocket(.pull, context: context)
        try pull.set(.receiveHighWaterMark, 2)
        try pull.bind(endpoint)
        let push = try ZeroMQSocket(.push, context: context)
        try push.set(.sendHighWaterMark, 2)
        #expect(try push.get(.sendHighWaterMark) == 2)
        try push.connect(endpoint)

        var sent = 0
        var returned: [[UInt8]]?
        for index in 0..<1000 {
            if let back = try push.trySend(ZeroMQMessage([bytes("m\(index)")])) {
                returned = back.copyFrames()
                break
            }
            sent += 1
        }
        #expect(returned == [bytes("m\(sent)")])
        #expect(sent >= 2 && sent < 1000)

        // Nothing was lost: every accepted message arrives, in order.
        for index in 0..<sent {
            #expect(try receiveFrames(pull) == [bytes("m\(index)")])
        }
        // libzmq reopens the pipe when the reader has caught up; wait for that event.
        #expect(try push.poll(.writable, timeout: .seconds(5)) == .writable)
        #expect(try push.trySend(ZeroMQMessage(try #require(returned))) == nil)
        #expect(try receiveFrames(pull) == [bytes("m\(sent)")])
    }

    @Test func maxMessageSizeDropsTheOffendingPeer() throws {
        let context = try ZeroMQContext()
        let router = try ZeroMQSocket(.router, context: context)
        try router.set(.maxMessageSize, 100)
        #expect(try router.get(.maxMessageSize) == 100)
        let endpoint = try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZeroMQSocket(.dealer, context: context)
        try dealer.set(.reconnectInterval, nil)  // a dropped connection stays dropped
        #expect(try dealer.get(.reconnectInterval) == nil)
        try dealer.connect(endpoint)

        #expect(try dealer.trySend(ZeroMQMessage([bytes("small")])) == nil)
        #expect(try receiveFrames(router)?.last == bytes("small"))
        #expect(try dealer.trySend(ZeroMQMessage([[UInt8](repeating: 1, count: 1000)])) == nil)
        _ = try? dealer.trySend(ZeroMQMessage([bytes("after")]))
        #expect(try receiveFrames(router, within: .milliseconds(300)) == nil)
    }

    @Test func optionsRoundTrip() throws {
        let context = try ZeroMQContext()
        let socket = try ZeroMQSocket(.dealer, context: context, linger: .milliseconds(250))
        #expect(try socket.get(.linger) == .milliseconds(250))
        try socket.set(.receiveHighWaterMark, 77)
        #expect(try socket.get(.receiveHighWaterMark) == 77)
        try socket.set(.immediate, true)
        #expect(try socket.get(.immediate))
        try socket.set(.heartbeatInterval, .seconds(2))
        try socket.set(.heartbeatTimeout, .milliseconds(1500))
        try socket.set(.heartbeatTTL, .seconds(10))
        #expect(try socket.get(.heartbeatInterval) == .seconds(2))
        #expect(try socket.get(.heartbeatTimeout) == .milliseconds(1500))
        #expect(try socket.get(.heartbeatTTL) == .seconds(10))
        try socket.set(.routingID, bytes("me"))
        #expect(try socket.get(.routingID) == bytes("me"))
        try socket.set(.receiveTimeout, .milliseconds(20))
        #expect(try socket.get(.receiveTimeout) == .milliseconds(20))
        #expect(try socket.get(.sendTimeout) == nil)
        try socket.set(.linger, .seconds(-5))
        #expect(try socket.get(.linger) == .zero)

        let router = try ZeroMQSocket(.router, context: context)
        try router.set(.routerMandatory, true)
        do {
            _ = try router.get(.routerMandatory)
            Issue.record("write-only option read")
        } catch let error as ZeroMQError {
            #expect(error.code == .invalid)
        }
    }

    @Test func blockingReceiveHonoursItsTimeout() throws {
        let context = try ZeroMQContext()
        let socket = try ZeroMQSocket(.pull, context: context)
        try socket.set(.receiveTimeout, .milliseconds(10))
        try socket.bind(uniqueInproc())
        do {
            _ = try socket.blockingReceive()
            Issue.record("received from nobody")
        } catch let error as ZeroMQError {
            #expect(error.code == .wouldBlock)
        }
    }

    @Test func endpointErrorsHaveCodes() throws {
        let context = try ZeroMQContext()
        let socket = try ZeroMQSocket(.router, context: context)
        do {
            try socket.bind("nonsense://x")
            Issue.record("bound a nonsense endpoint")
        } catch let error as ZeroMQError {
            #expect(error.code == .protocolNotSupported)
            #expect(error.message.contains("zmq_bind"))
        }
        do {
            try socket.unbind("tcp://127.0.0.1:1")
            Issue.record("unbound an endpoint never bound")
        } catch let error as ZeroMQError {
            #expect(error.code == .noSuchEndpoint)
        }
    }

    @Test func asyncCallsNeedAReactor() async throws {
        let context = try ZeroMQContext()
        let socket = try ZeroMQSocket(.dealer, context: context)
        do {
            _ = try await socket.receive()
            Issue.record("receive without a reactor")
        } catch let error as ZeroMQError {
            #expect(error.code == .notAttached)
        }
    }
}
