import Testing
@testable import CortZeroMQ

@Suite struct ZeroMQMessageTests {
    @Test func framesKeepOrderAndContent() {
        let frames = (0..<20).map { index in [UInt8](repeating: UInt8(index), count: index * 7) }
        var message = ZeroMQMessage()
        for frame in frames { message.append(frame) }
        #expect(message.count == 20)
        #expect(message.copyFrames() == frames)
        #expect(message.frameSize(at: 19) == 133)
        #expect(message.withFrame(at: 3) { Array($0) } == frames[3])
        #expect(ZeroMQMessage(frames).copyFrames() == frames)
    }

    @Test func stringsAndRawBuffers() {
        var message = ZeroMQMessage()
        message.append("héllo")
        let raw: [UInt8] = [1, 2, 3]
        raw.withUnsafeBytes { message.append(copying: $0) }
        message.append([UInt8]())
        #expect(message.copyFrames() == [bytes("héllo"), [1, 2, 3], []])
        #expect(message.withFrame(at: 2) { $0.count } == 0)
    }

    @Test func removeFirstThenPrependReusesTheSlot() {
        var message = ZeroMQMessage([bytes("peer"), bytes("body")])
        let routingID = message.removeFirst()
        #expect(routingID == bytes("peer"))
        #expect(message.copyFrames() == [bytes("body")])
        message.prepend(bytes("other"))
        #expect(message.copyFrames() == [bytes("other"), bytes("body")])
        // Prepending without a free slot grows the buffer.
        message.prepend(bytes("first"))
        #expect(message.copyFrames() == [bytes("first"), bytes("other"), bytes("body")])
        message.removeAll()
        #expect(message.count == 0)
    }

    @Test func zeroCopyFramesRoundTrip() throws {
        let context = try ZeroMQContext()
        let endpoint = uniqueInproc()
        let server = try ZeroMQSocket(.pair, context: context)
        let client = try ZeroMQSocket(.pair, context: context)
        try server.bind(endpoint)
        try client.connect(endpoint)
        let large = (0..<100_000).map { UInt8(truncatingIfNeeded: $0) }
        var message = ZeroMQMessage()
        message.append(noCopy: large)
        message.append(noCopy: bytes("small"))  // copied: fits inside zmq_msg_t
        #expect(try client.trySend(message) == nil)
        guard let received = try receive(server) else {
            Issue.record("no message")
            return
        }
        let count = received.count
        let sameLarge = received.withFrame(at: 0) { $0.elementsEqual(large) }
        #expect(count == 2)
        #expect(sameLarge)
        #expect(received.frame(at: 1) == bytes("small"))
    }

    @Test func messagesMoveBetweenTasks() async {
        let message = ZeroMQMessage([bytes("moved"), [UInt8](repeating: 9, count: 1000)])
        let frames = await Task.detached { [message = consume message] in
            message.copyFrames()
        }.value
        #expect(frames == [bytes("moved"), [UInt8](repeating: 9, count: 1000)])
    }

    @Test func sendingNoFramesIsInvalid() throws {
        let context = try ZeroMQContext()
        let socket = try ZeroMQSocket(.pair, context: context)
        do {
            _ = try socket.trySend(ZeroMQMessage())
            Issue.record("empty message sent")
        } catch let error as ZeroMQError {
            #expect(error.code == .invalid)
        }
    }

    @Test func messagesBuiltAtOnceOnManyThreadsNeverShareFrames() async {
        // Spare buffers change hands through one atomic slot: a buffer two
        // messages held at once would mix their frames.
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    var mismatches = 0
                    for round in 0..<2_000 {
                        let frames = (0..<(1 + round % 6)).map { index in
                            [UInt8](repeating: UInt8(truncatingIfNeeded: worker &* 31 &+ round &+ index), count: 8 + index)
                        }
                        var message = ZeroMQMessage(frameCapacity: round % 3)
                        for frame in frames { message.append(frame) }
                        if round % 7 == 0 { await Task.yield() }
                        if message.copyFrames() != frames { mismatches += 1 }
                    }
                    return mismatches
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }
}
