import Testing
@testable import CortZeroMQ

@Suite struct ZeroMQContextTests {
    @Test func socketsKeepTheirContextAlive() throws {
        let endpoint = uniqueInproc()
        let (server, client) = try { () throws -> (ZeroMQSocket, ZeroMQSocket) in
            let context = try ZeroMQContext()
            let server = try ZeroMQSocket(.pair, context: context)
            let client = try ZeroMQSocket(.pair, context: context)
            return (server, client)
        }()
        // The only references to the context are now the sockets'.
        try server.bind(endpoint)
        try client.connect(endpoint)
        #expect(try client.trySend(ZeroMQMessage([bytes("alive")])) == nil)
        #expect(try receiveFrames(server) == [bytes("alive")])
    }

    @Test func shutdownFailsBlockingCallsAndNewSockets() throws {
        let context = try ZeroMQContext(ioThreads: 1)
        let socket = try ZeroMQSocket(.pull, context: context)
        try socket.bind(uniqueInproc())
        context.shutdown()
        #expect(throws: ZeroMQError.self) { _ = try socket.blockingReceive() }
        do {
            _ = try socket.blockingReceive()
        } catch let error as ZeroMQError {
            #expect(error.code == .terminated)
            #expect(error.errno != nil)
        }
        do {
            _ = try ZeroMQSocket(.push, context: context)
            Issue.record("socket created after shutdown")
        } catch let error as ZeroMQError {
            #expect(error.code == .terminated)
        }
    }

    @Test func invalidIOThreadCountIsAnError() {
        #expect(throws: ZeroMQError.self) { _ = try ZeroMQContext(ioThreads: -1) }
    }
}
