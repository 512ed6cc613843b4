import Logging

/// The passing instances of one service, as an `AsyncSequence` of updates driven by
/// Consul blocking queries.
///
/// The first element is the current list; each later one comes when the list changed
/// (the index and the content both changed). Errors never end the sequence: the watch
/// backs off (5 s × failures², at most 3 minutes by default), logs the first failure as a
/// warning and the recovery as a notice, and carries on, so the consumer simply keeps its
/// last list through an outage. The sequence ends when the consuming task is cancelled
/// or the client is shut down. A consumer that needs to know why a query failed (a
/// refused token) iterates with ``Iterator/nextUpdate()``, which throws the failure instead.
///
/// Nothing runs in the background: each `next()` runs the queries on the caller's task,
/// and the in-flight query is abandoned at once when that task is cancelled.
///
/// ```swift
/// let watch = client.healthWatch(service: "greeter")
/// for await update in watch {
///     directory.replace(update.instances.map { ($0.id, "tcp://\($0.address):\($0.port)") })
/// }
/// ```
public struct HealthWatch: AsyncSequence, Sendable {
    /// A new list of instances.
    public struct Update: Sendable, Equatable {
        /// The instances, sorted by service ID.
        public var instances: [ConsulServiceInstance]
        /// The `X-Consul-Index` of the answer that brought them.
        public var index: UInt64

        /// An update.
        public init(instances: [ConsulServiceInstance], index: UInt64) {
            self.instances = instances
            self.index = index
        }
    }

    /// The watch's element: a new list of instances.
    public typealias Element = Update
    /// Errors are retried, never thrown.
    public typealias Failure = Never

    /// The clock erased to "time since start" and "sleep until then", so the watch is not
    /// generic over its clock.
    struct TimeSource: Sendable {
        var now: @Sendable () -> Duration
        var sleep: @Sendable (_ until: Duration) async throws -> Void

        init<C: Clock<Duration>>(_ clock: C) {
            let origin = clock.now
            now = { origin.duration(to: clock.now) }
            sleep = { until in try await clock.sleep(until: origin.advanced(by: until), tolerance: nil) }
        }
    }

    let client: ConsulClient
    /// The service watched.
    public let service: String
    /// How the watch queries and paces itself.
    public let configuration: Configuration
    let time: TimeSource
    let logger: Logger

    /// A watch of `service` through `client`. Starts nothing until iterated.
    ///
    /// - Parameters:
    ///   - client: the client that queries Consul.
    ///   - service: the service whose passing instances are watched.
    ///   - configuration: how the watch queries and paces itself.
    ///   - clock: the clock that paces queries and backoff (virtual time in tests).
    ///   - logger: where failures and recoveries are logged; the client's logger by default.
    public init(
        client: ConsulClient,
        service: String,
        configuration: Configuration = Configuration(),
        clock: some Clock<Duration> = ContinuousClock(),
        logger: Logger? = nil
    ) {
        self.client = client
        self.service = service
        self.configuration = configuration
        time = TimeSource(clock)
        var logger = logger ?? client.logger
        logger[metadataKey: "cort.service"] = "\(service)"
        self.logger = logger
    }

    /// An iterator with its own state: each iteration of the sequence is an independent watch.
    public func makeAsyncIterator() -> Iterator {
        Iterator(watch: self)
    }

    /// Runs the watch's queries on the consuming task. A value: a copy carries on from the
    /// same index and last list on its own.
    public struct Iterator: AsyncIteratorProtocol, Sendable {
        let watch: HealthWatch
        var machine: HealthWatchStateMachine

        init(watch: HealthWatch) {
            self.watch = watch
            machine = HealthWatchStateMachine(configuration: watch.configuration)
        }

        /// The next changed list; `nil` once the task is cancelled or the client shut down.
        /// Failed queries are retried with backoff (the first failure of a run is logged as a
        /// warning, the rest at debug), so this never reports an outage.
        public mutating func next() async -> Update? {
            while true {
                do {
                    return try await nextUpdate()
                } catch {
                    let metadata: Logger.Metadata = [
                        "cort.consul.failures": "\(machine.failures)", "cort.consul.backoff": "\(machine.backoff)",
                        "cort.error": "\(error)",
                    ]
                    // The first failure of an outage is news; the rest are not.
                    if machine.failures == 1 {
                        watch.logger.warning("Consul health watch failed; keeping the last list and retrying", metadata: metadata)
                    } else {
                        watch.logger.debug("Consul health watch still failing", metadata: metadata)
                    }
                }
            }
        }

        /// The next changed list, or the failure of the query that could not get it: for a
        /// consumer that wants to know why there is no list (a 403 it should report, an
        /// unreachable agent) rather than wait through the outage.
        ///
        /// Pacing, the index rules and "only a changed list is an update" are those of
        /// ``next()``. A failure is counted before it is thrown, so calling again on the same
        /// iterator retries after the backoff (`backoffBase × failures²`); a fresh iterator
        /// starts without backoff and from index 0.
        ///
        /// ```swift
        /// var updates = client.healthWatch(service: "greeter").makeAsyncIterator()
        /// do {
        ///     while let update = try await updates.nextUpdate() { print(update.instances.count) }
        /// } catch where error.status == 403 {
        ///     logger.error("the Consul token is refused: \(error.consulMessage ?? "")")
        /// }
        /// ```
        ///
        /// - Returns: the update; `nil` once the task is cancelled or the client shut down.
        /// - Throws: the ``ConsulError`` of a failed query (never `cancelled` or `shutDown`:
        ///   those end the watch with `nil`).
        public mutating func nextUpdate() async throws(ConsulError) -> Update? {
            let configuration = watch.configuration
            let logger = watch.logger
            while !Task.isCancelled {
                switch machine.next(now: watch.time.now()) {
                case .wait(let until):
                    do {
                        try await watch.time.sleep(until)
                    } catch {
                        return nil
                    }
                case .query(let index):
                    let answer: ConsulQueryResult<[ConsulServiceInstance]>
                    do {
                        answer = try await watch.client.healthService(
                            watch.service, tags: configuration.tags, passingOnly: configuration.passingOnly,
                            stale: configuration.stale, index: index, wait: configuration.wait)
                    } catch where error.code == .cancelled || error.code == .shutDown {
                        return nil
                    } catch {
                        machine.failed(now: watch.time.now())
                        throw error
                    }
                    let received = machine.received(index: answer.index, instances: answer.value)
                    if received.recoveredAfterFailures > 0 {
                        logger.notice("Consul health watch recovered", metadata: [
                            "cort.consul.failures": "\(received.recoveredAfterFailures)",
                        ])
                    }
                    if received.indexWentBack {
                        logger.debug("Consul index went back; the watch starts over", metadata: [
                            "cort.consul.sent_index": "\(index)", "cort.consul.index": "\(answer.index)",
                        ])
                    }
                    if let update = received.update { return update }
                }
            }
            return nil
        }
    }
}
