import Testing
@testable import CortZeroMQ

@Suite struct ZeroMQMonitorTests {
    /// Reads the next monitor event within 5 seconds.
    func nextEvent(_ events: ZeroMQSocket) throws -> MonitorEvent? {
        guard try events.poll(.readable, timeout: .seconds(5)).contains(.readable),
              let message = try events.tryReceive() else { return nil }
        return try MonitorEvent(message)
    }

    @Test func aPeerThatGoesAwayIsReportedAsDisconnectedWithItsEndpoint() throws {
        let context = try ZeroMQContext()
        var server: ZeroMQSocket? = try ZeroMQSocket(.router, context: context)
        let endpoint = try server!.bind("tcp://127.0.0.1:*")

        let client = try ZeroMQSocket(.router, context: context)
        let monitorEndpoint = uniqueInproc()
        try client.monitor(monitorEndpoint, events: [.handshakeSucceeded, .disconnected])
        let events = try ZeroMQSocket(.pair, context: context)
        try events.connect(monitorEndpoint)
        try client.connect(endpoint)

        let up = try #require(try nextEvent(events))
        #expect(up.event == .handshakeSucceeded)
        #expect(up.endpoint == endpoint)

        server = nil  // closes the server's socket: the connection drops
        let down = try #require(try nextEvent(events))
        #expect(down.event == .disconnected)
        #expect(down.endpoint == endpoint)
        try client.stopMonitoring()
    }

    @Test func aMessageOfAnotherShapeIsNotAnEvent() throws {
        #expect(throws: ZeroMQError.self) { try MonitorEvent(ZeroMQMessage([[1, 2, 3]])) }
        #expect(throws: ZeroMQError.self) { try MonitorEvent(ZeroMQMessage([[1, 2, 3, 4, 5, 6]])) }
        let event = try MonitorEvent(ZeroMQMessage([[0x00, 0x02, 7, 0, 0, 0], Array("tcp://a:1".utf8)]))
        #expect(event.event == .disconnected)
        #expect(event.value == 7)
        #expect(event.endpoint == "tcp://a:1")
    }
}
