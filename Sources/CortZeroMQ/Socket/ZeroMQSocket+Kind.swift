internal import CZeroMQ

extension ZeroMQSocket {
    /// A socket type (libzmq's `ZMQ_DEALER`, `ZMQ_ROUTER`, ...).
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        let rawValue: Int32
        private let name: String

        private init(_ rawValue: Int32, _ name: String) {
            self.rawValue = rawValue
            self.name = name
        }

        /// Exclusive pair.
        public static let pair = Kind(ZMQ_PAIR, "PAIR")
        /// Publisher.
        public static let pub = Kind(ZMQ_PUB, "PUB")
        /// Subscriber.
        public static let sub = Kind(ZMQ_SUB, "SUB")
        /// Strict request side of REQ/REP.
        public static let req = Kind(ZMQ_REQ, "REQ")
        /// Strict reply side of REQ/REP.
        public static let rep = Kind(ZMQ_REP, "REP")
        /// Asynchronous, load-balancing request side.
        public static let dealer = Kind(ZMQ_DEALER, "DEALER")
        /// Addressed side: prefixes every received message with the peer's routing id
        /// and routes sends by their first frame.
        public static let router = Kind(ZMQ_ROUTER, "ROUTER")
        /// Pipeline consumer.
        public static let pull = Kind(ZMQ_PULL, "PULL")
        /// Pipeline producer.
        public static let push = Kind(ZMQ_PUSH, "PUSH")
        /// Publisher that sees subscriptions.
        public static let xpub = Kind(ZMQ_XPUB, "XPUB")
        /// Subscriber that sends raw subscriptions.
        public static let xsub = Kind(ZMQ_XSUB, "XSUB")
        /// Raw TCP.
        public static let stream = Kind(ZMQ_STREAM, "STREAM")

        /// The libzmq name, e.g. `ROUTER`.
        public var description: String { name }

        /// Kinds are equal when their libzmq types are.
        public static func == (lhs: Kind, rhs: Kind) -> Bool { lhs.rawValue == rhs.rawValue }

        /// Hashes the libzmq type.
        public func hash(into hasher: inout Hasher) { hasher.combine(rawValue) }
    }

    /// Readiness events (`ZMQ_POLLIN`, `ZMQ_POLLOUT`).
    public struct Events: OptionSet, Sendable, Hashable {
        /// The raw `ZMQ_POLL*` bits.
        public let rawValue: Int16
        /// Creates events from raw `ZMQ_POLL*` bits.
        public init(rawValue: Int16) { self.rawValue = rawValue }
        /// A message can be received without blocking.
        public static let readable = Events(rawValue: Int16(ZMQ_POLLIN))
        /// A message can be sent without blocking (for a ROUTER: to at least one peer).
        public static let writable = Events(rawValue: Int16(ZMQ_POLLOUT))
    }
}
