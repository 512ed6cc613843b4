import ArgumentParser
import Cort

/// `cort nodes SERVICE`: each node of a service, pinged.
struct NodesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nodes",
        abstract: "Ping each node of a service: round trip, free slots and incarnation.",
        discussion: """
            Discovery is chosen by the environment a node reads: CORT_DISCOVERY, \
            CORT_STATIC_SERVICES, CONSUL_HTTP_ADDR. Each node discovery lists (with \
            Consul, the passing ones: the DISCOVERY column says "passing") gets one \
            heartbeat over a fresh connection, with CURVE when CORT_CURVE_SECRET_KEY_FILE \
            or CORT_CURVE_SECRET_KEY is set. The pong gives the round trip, the free \
            slots (how many more calls the node takes now) and the incarnation (a random \
            number the node chose at start: a new one means it restarted). A node that \
            does not answer within --timeout shows "no answer". \
            --json prints [{"endpoint", "instance", "discovery", "answered", \
            "roundTripMicroseconds", "freeSlots", "incarnation", "draining", "error"}] \
            (the values of a node that did not answer are null).

            Exit codes: 0 every node answered; 1 a node did not answer (or is draining), \
            discovery lists no node, or discovery failed; 64 a usage error.
            """
    )

    @Argument(help: "The service whose nodes to ping.")
    var service: String

    @Flag(help: "Print JSON, one object per node.")
    var json = false

    @Option(help: ArgumentHelp("How long to wait for discovery, and for each node's pong (500ms, 2s).",
                               valueName: "duration"))
    var timeout = TimeoutArgument("2s", .seconds(2))

    /// One node in the output.
    struct Entry: Encodable {
        var endpoint: String
        var instance: String
        var discovery: String
        var answered: Bool
        var roundTripMicroseconds: Int?
        var freeSlots: UInt32?
        /// 16 hex digits.
        var incarnation: String?
        var draining: Bool
        var error: String?

        func encode(to encoder: any Encoder) throws {
            // Written out so a node that did not answer has nulls, not missing keys.
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(endpoint, forKey: .endpoint)
            try container.encode(instance, forKey: .instance)
            try container.encode(discovery, forKey: .discovery)
            try container.encode(answered, forKey: .answered)
            try container.encode(roundTripMicroseconds, forKey: .roundTripMicroseconds)
            try container.encode(freeSlots, forKey: .freeSlots)
            try container.encode(incarnation, forKey: .incarnation)
            try container.encode(draining, forKey: .draining)
            try container.encode(error, forKey: .error)
        }

        private enum CodingKeys: String, CodingKey {
            case endpoint, instance, discovery, answered, roundTripMicroseconds, freeSlots, incarnation, draining, error
        }
    }

    func run() async throws {
        try await reportingFailures {
            let command = "nodes"
            let chosen = try CommandDiscovery(command: command)
            let keys = try Security.fromEnvironment(command: command).keyPair
            let instances = try await chosen.instances(of: service, within: timeout.duration, command: command)
            let probe = NodeProbe(keys: keys, timeout: timeout.duration)
            let answers = await withTaskGroup(of: (Int, NodeProbe.Answer).self) { group in
                for (index, instance) in instances.enumerated() {
                    group.addTask { (index, await probe.ping(instance)) }
                }
                return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            let entries = instances.enumerated().map { index, instance in
                Self.entry(instance, answers[index] ?? .noAnswer, listing: chosen.listing)
            }
            if json {
                print(try CommandOutput.json(entries))
            } else if !entries.isEmpty {
                print(CommandOutput.table(
                    ["ENDPOINT", "INSTANCE", "ROUND TRIP", "FREE SLOTS", "INCARNATION", "DISCOVERY"],
                    entries.map { entry in
                        [entry.endpoint, entry.instance,
                         entry.roundTripMicroseconds.map(Self.formatMicroseconds)
                            ?? (entry.draining ? "draining" : entry.error ?? "no answer"),
                         entry.freeSlots.map(String.init) ?? "-", entry.incarnation ?? "-", entry.discovery]
                    }))
            }
            if instances.isEmpty {
                throw CommandFailure(command: command,
                                     "\(chosen.backendName) discovery lists no node of service \"\(service)\"")
            }
            let silent = entries.filter { !$0.answered }.count
            if silent > 0 {
                throw CommandFailure(command: command, "\(silent) of \(entries.count) nodes did not answer")
            }
        }
    }

    static func entry(_ instance: ServiceInstance, _ answer: NodeProbe.Answer, listing: String) -> Entry {
        var entry = Entry(endpoint: instance.endpoint, instance: instance.id, discovery: listing,
                          answered: false, draining: false)
        switch answer {
        case .pong(let roundTrip, let freeSlots, let incarnation):
            entry.answered = true
            let (seconds, attoseconds) = roundTrip.components
            // At least 1 µs: an answer took some time, and 0 would read as none.
            entry.roundTripMicroseconds = max(1, Int(seconds) * 1_000_000 + Int(attoseconds / 1_000_000_000_000))
            entry.freeSlots = freeSlots
            entry.incarnation = hex(incarnation)
        case .draining(let incarnation):
            entry.draining = true
            entry.incarnation = hex(incarnation)
        case .noAnswer:
            break
        case .unreachable(let reason):
            entry.error = reason
        }
        return entry
    }

    static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// `850µs` below a millisecond, `12.3ms` below a second, else `1.25s`.
    static func formatMicroseconds(_ microseconds: Int) -> String {
        if microseconds < 1000 { return "\(microseconds)µs" }
        if microseconds < 1_000_000 { return String(format: "%.1fms", Double(microseconds) / 1000) }
        return String(format: "%.2fs", Double(microseconds) / 1_000_000)
    }
}
