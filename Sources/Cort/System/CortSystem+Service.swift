import ServiceLifecycle

/// A system is a swift-service-lifecycle `Service`: run it in a
/// `ServiceGroup`, and a graceful shutdown (SIGTERM, say) drains it.
///
/// ```swift
/// let node = try CortSystem.start(.init(name: "node-a", discovery: discovery, endpoint: "tcp://0.0.0.0:5555"))
/// try await node.host("greeter", replicas: 4) { Greeter(actorSystem: $0) }
/// let group = ServiceGroup(services: [node], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()   // on SIGTERM: callers are told, accepted calls finish, then it closes
/// ```
extension CortSystem: Service {
    /// Waits for a graceful shutdown (or for the task to be cancelled, or for
    /// ``shutdown()`` to be called elsewhere), then shuts the system down:
    /// its callers are told to stop sending, the calls it accepted finish,
    /// its services are deregistered, and it closes.
    public func run() async throws {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Returns on a graceful shutdown, throws when cancelled: either way it is time to stop.
                try? await gracefulShutdown()
            }
            group.addTask { await self.waitUntilShutDown() }
            await group.next()
            group.cancelAll()
        }
        await shutdown()
    }
}
