// The Swift snippets of docs/ZEROMQ.md, compiled (see README.swift).
import CortZeroMQ

actor SocketOwner {
    let reactor: ZeroMQReactor

    init(reactor: ZeroMQReactor) {
        self.reactor = reactor
    }

    // snippet: ZEROMQ-executor
    nonisolated var unownedExecutor: UnownedSerialExecutor { reactor.asUnownedSerialExecutor() }
    // end snippet
}
