import Testing
@testable import CortZeroMQ

/// The options that decide how a peer that lost its connection without a
/// FIN (a network partition) gets back in: ``ZeroMQSocket/Option/routerHandover``
/// on the bound ROUTER and ``ZeroMQSocket/Option/connectTimeout`` on the connecting side.
@Suite struct ZeroMQSocketReconnectTests {
    @Test func connectTimeoutRoundTrips() throws {
        let context = try ZeroMQContext()
        let socket = try ZeroMQSocket(.router, context: context)
        #expect(try socket.get(.connectTimeout) == nil, "libzmq's default: the kernel's")
        try socket.set(.connectTimeout, .milliseconds(250))
        #expect(try socket.get(.connectTimeout) == .milliseconds(250))
        try socket.set(.connectTimeout, nil)
        #expect(try socket.get(.connectTimeout) == nil)
        try socket.set(.connectTimeout, .zero)
        #expect(try socket.get(.connectTimeout) == nil)
    }

    @Test func routerHandoverIsWriteOnly() throws {
        let context = try ZeroMQContext()
        let router = try ZeroMQSocket(.router, context: context)
        try router.set(.routerHandover, true)
        do {
            _ = try router.get(.routerHandover)
            Issue.record("write-only option read")
        } catch let error as ZeroMQError {
            #expect(error.code == .invalid)
        }
    }

    /// A second connection with a routing id the ROUTER already has: with
    /// handover it takes the id (and the replies) and the first connection is
    /// no longer read; without, the second is never read and the replies
    /// keep going to the first, which is what kept a caller out after a partition.
    @Test(arguments: [true, false])
    func aSecondConnectionWithTheSameRoutingID(handover: Bool) throws {
        let context = try ZeroMQContext()
        let router = try ZeroMQSocket(.router, context: context)
        try router.set(.routerMandatory, true)
        if handover { try router.set(.routerHandover, true) }
        let endpoint = try router.bind("tcp://127.0.0.1:*")

        let first = try ZeroMQSocket(.dealer, context: context)
        try first.set(.routingID, bytes("caller"))
        try first.connect(endpoint)
        #expect(try first.trySend(ZeroMQMessage([bytes("one")])) == nil)
        #expect(try receiveFrames(router) == [bytes("caller"), bytes("one")])

        let second = try ZeroMQSocket(.dealer, context: context)
        try second.set(.routingID, bytes("caller"))
        try second.connect(endpoint)
        #expect(try second.trySend(ZeroMQMessage([bytes("two")])) == nil)
        if handover {
            #expect(try receiveFrames(router) == [bytes("caller"), bytes("two")])
            #expect(try router.trySend(ZeroMQMessage([bytes("caller"), bytes("back")])) == nil)
            #expect(try receiveFrames(second) == [bytes("back")])
            #expect(try receiveFrames(first, within: .milliseconds(100)) == nil)
            // libzmq detaches the first connection from the socket (its TCP
            // connection stays open until the peer or TCP ends it): what
            // still arrives on it is never read.
            #expect(try first.trySend(ZeroMQMessage([bytes("stale")])) == nil)
            #expect(try receiveFrames(router, within: .milliseconds(300)) == nil, "the first connection is not read")
        } else {
            #expect(try receiveFrames(router, within: .milliseconds(300)) == nil, "the second connection is not read")
            #expect(try router.trySend(ZeroMQMessage([bytes("caller"), bytes("back")])) == nil)
            #expect(try receiveFrames(first) == [bytes("back")])
            #expect(try receiveFrames(second, within: .milliseconds(100)) == nil)
        }
    }
}
