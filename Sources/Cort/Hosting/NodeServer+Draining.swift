extension NodeServer {
    /// Returns once no call is accepted (none waits, none runs).
    func waitUntilNoCalls() async {
        guard !calls.isEmpty else { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    /// Stops taking calls, deregisters the services, finishes the calls it
    /// accepted (waiting and running), and stops the pools.
    func drain() async {
        guard !draining else { return }
        draining = true
        let drainStarted = system.clock.now
        // Callers stop sending new calls at once instead of finding out by refusals.
        let callers = peers.all
        for peer in callers {
            guard let routingID = peers[peer]?.routingID else { continue }
            answer(.draining(incarnation: incarnation), to: routingID, peer: peer)
        }
        logger.debug("draining", metadata: ["cort.endpoint": "\(endpoint)", "cort.callers": "\(callers.count)",
                                           "cort.calls_in_flight": "\(calls.count)"])
        for service in services.values {
            do {
                try await system.configuration.discovery.deregister(service.instance)
            } catch {
                logger.warning("cannot deregister", metadata: ["cort.service": "\(service.instance.service)", "cort.error": "\(error)"])
            }
        }
        await waitUntilNoCalls()
        // A caller may send a call before it reads the draining frame: keep
        // answering such calls with `shuttingDown` (which moves them, for they
        // did not run) for a moment, rather than close under them.
        if !callers.isEmpty {
            try? await system.clock.sleep(until: drainStarted + system.configuration.drainGrace)
        }
        for service in services.values {
            service.pool.shutdown()
            await service.running.value
        }
    }
}
