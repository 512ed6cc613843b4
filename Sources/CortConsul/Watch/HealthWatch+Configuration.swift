extension HealthWatch {
    /// How a watch queries and how it paces itself.
    public struct Configuration: Sendable, Hashable {
        /// The longest a blocking query waits (`?wait=`); the agent adds up to wait/16.
        public var wait: Duration = .seconds(60)
        /// `?passing`: list only instances whose checks all pass (a `warning` drops one too).
        public var passingOnly = true
        /// `?stale`: let any server answer, which spreads the load of many watches.
        public var stale = true
        /// Tags every listed instance must have.
        public var tags: [String] = []
        /// How many queries may go out back to back before the rate limit applies.
        public var burst = 2
        /// The rate limit: one more query is allowed per this interval.
        public var refillInterval: Duration = .seconds(1)
        /// The backoff after `n` failures in a row is `backoffBase × n²`, ...
        public var backoffBase: Duration = .seconds(5)
        /// ... at most this.
        public var backoffCap: Duration = .seconds(180)

        /// The defaults: 60 s waits, `?passing&stale`, a burst of 2 then one query a second,
        /// backoff 5 s × failures², at most 3 minutes (as Consul's Go watch plans).
        public init() {}
    }
}
