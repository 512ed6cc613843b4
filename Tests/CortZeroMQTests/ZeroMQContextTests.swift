import Foundation
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

    #if os(Linux)
    /// libzmq's threads of a `.batch` context run under SCHED_BATCH, those of
    /// an `.inherited` one under the policy of the thread that made them.
    @Test func batchSchedulingAppliesToTheContextsIOThread() throws {
        // Both names fit a thread's 15 bytes ("9999/ZMQbg/IO/0"); a prefix
        // of 10000 would lose the name's last byte, and the thread its name.
        // Apart from the other tests' prefixes (CortSystem's run to 999).
        let prefix = Int32.random(in: 1000...5998)
        let batch = try ZeroMQContext(threadScheduling: .batch, threadNamePrefix: prefix)
        #expect(batch.threadScheduling == .batch)
        let inherited = try ZeroMQContext(threadScheduling: .inherited, threadNamePrefix: prefix + 1)
        #expect(inherited.threadScheduling == .inherited)
        // A message over TCP has passed through each context's I/O thread,
        // which names itself and takes its policy before its loop runs.
        for context in [batch, inherited] {
            let server = try ZeroMQSocket(.pull, context: context)
            let client = try ZeroMQSocket(.push, context: context)
            try client.connect(try server.bind("tcp://127.0.0.1:*"))
            #expect(try client.trySend(ZeroMQMessage([bytes("ran")])) == nil)
            #expect(try receiveFrames(server) == [bytes("ran")])
        }
        // Both contexts live until their threads were looked at: Swift may
        // end a variable's lifetime after its last use, and a context whose
        // sockets are gone then terminates and its thread ends ("no thread
        // named …", seen in a clean-clone CI run and beside CPU hogs).
        defer { withExtendedLifetime((batch, inherited)) {} }
        #expect(try schedulingPolicy(ofThread: "\(prefix)/ZMQbg/IO/0") == 3)
        #expect(try schedulingPolicy(ofThread: "\(prefix + 1)/ZMQbg/IO/0") == 0)
    }

    /// A context named apart finds its one I/O thread and reads how long it
    /// waited for a CPU; one without a name, or whose name another context
    /// shares, reads nothing rather than another context's waits.
    @Test func aNamedContextReadsItsIOThreadsWaitForACPU() throws {
        // Apart from the other tests' prefixes (see above).
        let prefix = Int32.random(in: 6000...9999)
        let named = try ZeroMQContext(threadNamePrefix: prefix)
        #expect(named.ioThreadRunQueueWait() == nil, "no thread before the first socket")
        let server = try ZeroMQSocket(.pull, context: named)
        let client = try ZeroMQSocket(.push, context: named)
        try client.connect(try server.bind("tcp://127.0.0.1:*"))
        #expect(try client.trySend(ZeroMQMessage([bytes("ran")])) == nil)
        #expect(try receiveFrames(server) == [bytes("ran")])
        #expect(named.ioThreadIDs().count == 1)
        let first = try #require(named.ioThreadRunQueueWait())
        #expect(first >= .zero)
        for _ in 0..<20 { #expect(try client.trySend(ZeroMQMessage([bytes("more")])) == nil) }
        for _ in 0..<20 { #expect(try receiveFrames(server) == [bytes("more")]) }
        #expect(try #require(named.ioThreadRunQueueWait()) >= first, "a running total")

        let unnamed = try ZeroMQContext()
        let unnamedSocket = try ZeroMQSocket(.pull, context: unnamed)
        _ = try unnamedSocket.bind("tcp://127.0.0.1:*")
        #expect(unnamed.ioThreadRunQueueWait() == nil)

        // A message through it: its I/O thread has named itself by then.
        let twin = try ZeroMQContext(threadNamePrefix: prefix)
        let twinServer = try ZeroMQSocket(.pull, context: twin)
        let twinClient = try ZeroMQSocket(.push, context: twin)
        try twinClient.connect(try twinServer.bind("tcp://127.0.0.1:*"))
        #expect(try twinClient.trySend(ZeroMQMessage([bytes("twin")])) == nil)
        #expect(try receiveFrames(twinServer) == [bytes("twin")])
        withExtendedLifetime((named, unnamed, server, client, unnamedSocket, twinServer, twinClient)) {
            #expect(twin.ioThreadIDs().count == 2, "both contexts' threads have the name")
            #expect(twin.ioThreadRunQueueWait() == nil)
        }
    }

    /// The scheduling policy (field 41 of `/proc/…/stat`) of this process's
    /// thread named `name` (SCHED_OTHER is 0, SCHED_BATCH 3).
    private func schedulingPolicy(ofThread name: String) throws -> Int? {
        for thread in try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task") {
            let comm = try? String(contentsOfFile: "/proc/self/task/\(thread)/comm", encoding: .utf8)
            guard comm?.trimmingCharacters(in: .newlines) == name else { continue }
            let stat = try String(contentsOfFile: "/proc/self/task/\(thread)/stat", encoding: .utf8)
            // Fields after the name (which may hold spaces) start at field 3.
            let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
            return Int(fields[41 - 3])
        }
        Issue.record("no thread named \(name)")
        return nil
    }
    #endif

    @Test func invalidIOThreadCountIsAnError() {
        #expect(throws: ZeroMQError.self) { _ = try ZeroMQContext(ioThreads: -1) }
    }
}
