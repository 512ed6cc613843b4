import Cort
import Logging
import Synchronization

/// The background side of ``ConsulDiscovery/register(_:)``: one task per
/// instance registers it until Consul takes it, then keeps its check passing.
extension ConsulDiscovery {
    /// How the first registration attempt ended, for a `register` that may
    /// still be waiting for it. Reported once; whichever comes first, the
    /// report or the waiter giving up, decides what `register` sees.
    final class FirstAttempt: Sendable {
        enum Outcome: Sendable {
            /// Registered, or failing in a way retried in the background.
            case settled
            /// `register` throws this (the node's own mistake, or a shut-down backend).
            case failed(DiscoveryError)
        }

        private struct State {
            var outcome: Outcome?
            var waiter: CheckedContinuation<Outcome?, Never>?
            var abandoned = false
        }

        private let state = Mutex(State())

        /// Reports the outcome; returns whether `register` gets it (false
        /// when it already stopped waiting, or something was reported before).
        @discardableResult
        func report(_ outcome: Outcome) -> Bool {
            let (waiter, taken): (CheckedContinuation<Outcome?, Never>?, Bool) = state.withLock { state in
                guard state.outcome == nil, !state.abandoned else { return (nil, false) }
                state.outcome = outcome
                defer { state.waiter = nil }
                return (state.waiter, true)
            }
            waiter?.resume(returning: outcome)
            return taken
        }

        /// The error `register` throws, or nil: when the attempt settled, or
        /// `limit` (real time) passed, or the waiting task was cancelled.
        func outcome(within limit: Duration) async -> DiscoveryError? {
            let timer = Task {
                try? await Task.sleep(for: limit)
                self.abandon()
            }
            defer { timer.cancel() }
            let outcome = await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Outcome?, Never>) in
                    let ready: Outcome?? = state.withLock { state in
                        if let outcome = state.outcome { return .some(outcome) }
                        if state.abandoned { return .some(nil) }
                        state.waiter = continuation
                        return nil
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            } onCancel: {
                abandon()
            }
            if case .failed(let error)? = outcome { return error }
            return nil
        }

        private func abandon() {
            let waiter = state.withLock { state in
                state.abandoned = true
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    /// Registers until Consul takes the registration (backing off on the
    /// configuration's clock), then passes its check until cancelled.
    static func keepRegistered(
        _ registration: ConsulServiceRegistration, firstAttempt: FirstAttempt, client: ConsulClient,
        configuration: Configuration, clock: RuntimeClock, logger: Logger
    ) async {
        let id = registration.id ?? registration.name
        let agent = configuration.consul.endpoint
        var metadata: Logger.Metadata = ["cort.service": "\(registration.name)", "cort.instance.id": "\(id)"]
        var retry = ConsulRegistrationRetry(minimumDelay: configuration.minimumRetryDelay,
                                            maximumDelay: configuration.maximumRetryDelay)
        while true {
            do {
                try await client.register(registration)
                break
            } catch where error.code == .cancelled {
                firstAttempt.report(.settled)
                return
            } catch where error.code == .shutDown {
                firstAttempt.report(.failed(DiscoveryError(
                    .unavailable, "cannot register \(id) with Consul: the Consul discovery was shut down", cause: error)))
                return
            } catch {
                let failure = ConsulRegistrationRetry.Failure(error)
                let answer = describe(error, agent: agent)
                if failure == .refused, retry.failures == 0,
                   firstAttempt.report(.failed(DiscoveryError(
                       .invalidInstance, "Consul refused the registration of \(id): \(answer)", cause: error))) {
                    return
                }
                let decision = retry.failed(failure)
                if decision.startsStreak {
                    // The message carries Consul's answer.
                    logger.log(level: decision.level, "\(message(failure, id: id, answer: answer, configuration))",
                               metadata: metadata)
                } else {
                    logger.debug("still cannot register with Consul", metadata: [
                        "cort.instance.id": "\(id)", "cort.consul.failures": "\(retry.failures)", "cort.consul.retry_in": "\(decision.delay)",
                        "cort.error": "\(answer)",
                    ])
                }
                // Logged first, so the log says why before `register` returns.
                firstAttempt.report(.settled)
                do {
                    try await clock.sleep(until: clock.now + decision.delay)
                } catch {
                    return
                }
            }
        }
        let failures = retry.succeeded()
        if failures == 0 {
            logger.debug("registered with Consul", metadata: metadata)
        } else {
            metadata["failed_attempts"] = "\(failures)"
            logger.notice("registered with Consul after \(failures) failed attempt\(failures == 1 ? "" : "s")",
                          metadata: metadata)
        }
        firstAttempt.report(.settled)
        await keepPassing(registration, client: client, every: configuration.ttl / 3, clock: clock, logger: logger,
                          agent: agent)
    }

    /// The first failure of a streak, for people: what Consul answered and
    /// what happens next.
    private static func message(_ failure: ConsulRegistrationRetry.Failure, id: String, answer: String,
                                _ configuration: Configuration) -> String {
        let minimum = configuration.minimumRetryDelay.goDuration
        let maximum = configuration.maximumRetryDelay.goDuration
        switch failure {
        case .outage:
            return "cannot register \(id) with Consul: \(answer); retrying in the background every \(minimum), backing off to \(maximum)"
        case .unauthorized:
            return "cannot register \(id) with Consul: \(answer); the token needs fixing (CONSUL_HTTP_TOKEN); retrying in the background every \(maximum)"
        case .refused:
            return "cannot register \(id) with Consul: \(answer); retrying in the background every \(maximum)"
        }
    }

    /// Passes the check every `interval` until cancelled; registers again when
    /// the agent forgot the instance. Logs the first failure of a run of
    /// failures (at error when the token is refused) and the recovery,
    /// nothing in between.
    static func keepPassing(_ registration: ConsulServiceRegistration, client: ConsulClient,
                            every interval: Duration, clock: RuntimeClock, logger: Logger,
                            agent: ConsulConfiguration.Endpoint) async {
        guard let checkID = registration.checkID else { return }
        let id = registration.id ?? registration.name
        // Only its log levels are used: a pass is retried every interval, so the check stays up when it can.
        var streak = ConsulRegistrationRetry(minimumDelay: interval, maximumDelay: interval)
        var next = clock.now + interval
        while !Task.isCancelled {
            do {
                try await clock.sleep(until: next)
            } catch {
                return
            }
            next = clock.now + interval
            do {
                do {
                    try await client.passTTL(checkID: checkID)
                } catch let error where error.requiresRegistration {
                    logger.notice("Consul forgot the instance; registering it again", metadata: ["cort.instance.id": "\(id)"])
                    try await client.register(registration)
                }
                if streak.succeeded() > 0 {
                    logger.notice("Consul answers again; the instance is registered and passing", metadata: ["cort.instance.id": "\(id)"])
                }
            } catch let error where error.code == .cancelled || error.code == .shutDown {
                return
            } catch {
                let decision = streak.failed(ConsulRegistrationRetry.Failure(error))
                logger.log(level: decision.level, "cannot pass the TTL check of \(id): \(describe(error, agent: agent)); retrying every \(interval.goDuration)",
                           metadata: ["cort.instance.id": "\(id)", "cort.error": "\(error)"])
            }
        }
    }
}
