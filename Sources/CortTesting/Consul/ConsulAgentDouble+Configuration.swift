#if ConsulAgentDouble
import Logging

extension ConsulAgentDouble {
    /// How a double behaves where a real agent has settings.
    ///
    /// ```swift
    /// var configuration = ConsulAgentDouble.Configuration()
    /// configuration.aclToken = "s3cr3t"          // ACLs on: requests need this token
    /// configuration.jitter = { _ in .zero }      // blocking waits without random extra
    /// let consul = try await ConsulAgentDouble.start(clock: TestClock(), configuration: configuration)
    /// ```
    public struct Configuration: Sendable {
        /// When set, ACLs are on: every request but `GET /v1/status/leader`
        /// must carry this token in `X-Consul-Token` or
        /// `Authorization: Bearer`; `?token=` is deliberately not read, so a
        /// client that sends its token in the URL fails its tests.
        /// ``ConsulAgentDouble/setACLToken(_:)`` changes it while running.
        public var aclToken: String?
        /// The port to listen on (127.0.0.1); 0, the default, picks a free one.
        public var port: UInt16 = 0

        /// The node the agent runs on, as health answers show it.
        public var node = Node()

        /// The random extra a blocking query waits, given its largest value
        /// (`wait / 16`); the default draws it uniformly like the agent.
        /// Tests make it deterministic, e.g. `{ _ in .zero }` or `{ $0 }`.
        public var jitter: @Sendable (Duration) -> Duration = { limit in
            guard limit > .zero else { return .zero }
            let nanoseconds = Int64(limit / .nanoseconds(1))
            return .nanoseconds(Int64.random(in: 0...nanoseconds))
        }

        /// Request bodies larger than this get 400 instead of being read.
        public var maximumBodySize = 1 << 20

        /// How many requests ``ConsulAgentDouble/requests`` keeps (the oldest
        /// go first).
        public var requestLogLimit = 10_000

        /// Where the double says what it does (method and path, never bodies).
        public var logger = Logger(label: "cort.consul-double", factory: { _ in SwiftLogNoOpLogHandler() })

        /// The default double: no ACLs, node `cort-double` at 127.0.0.1 in `dc1`.
        public init() {}
    }

    /// The node an agent double runs on.
    public struct Node: Equatable, Sendable {
        /// The node's UUID.
        public var id: String
        /// The node's name.
        public var name: String
        /// The node's address: what a client uses for a service registered
        /// without one.
        public var address: String
        /// The datacenter.
        public var datacenter: String
        /// The status of the node's `serfHealth` check when the double starts.
        public var serfHealth: String

        /// Makes a node description.
        public init(
            id: String = "40e4a748-2192-161a-0510-9bf59fe950b5",
            name: String = "cort-double",
            address: String = "127.0.0.1",
            datacenter: String = "dc1",
            serfHealth: String = "passing"
        ) {
            self.id = id
            self.name = name
            self.address = address
            self.datacenter = datacenter
            self.serfHealth = serfHealth
        }
    }
}

#endif
