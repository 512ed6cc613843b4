import ArgumentParser
import Cort

/// `cort services`: the services discovery knows, with how many nodes it lists for each.
struct ServicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services",
        abstract: "List the services discovery knows, with their number of nodes.",
        discussion: """
            Discovery is chosen by the environment a node reads: CORT_DISCOVERY, \
            CORT_STATIC_SERVICES, CONSUL_HTTP_ADDR. NODES is the number of instances \
            discovery lists for the service (with Consul, the passing ones). \
            --json prints [{"service": "...", "nodes": N}].

            Exit codes: 0 listed; 1 discovery failed (misconfigured, unreachable, \
            cannot list, or no answer within --timeout); 64 a usage error.
            """
    )

    @Flag(help: #"Print JSON: [{"service": "...", "nodes": N}]."#)
    var json = false

    @Option(help: ArgumentHelp("How long to wait for discovery (10s, 500ms).", valueName: "duration"))
    var timeout = TimeoutArgument("5s", .seconds(5))

    /// One line of the output.
    struct Entry: Encodable {
        var service: String
        var nodes: Int
    }

    func run() async throws {
        try await reportingFailures {
            let command = "services"
            let chosen = try CommandDiscovery(command: command)
            let discovery = chosen.discovery
            let timeout = timeout.duration
            let entries: [Entry]
            do {
                let names = try await Self.within(timeout) { try await discovery.services() }
                entries = try await withThrowingTaskGroup(of: Entry.self) { group in
                    for name in names {
                        group.addTask {
                            Entry(service: name, nodes: try await discovery.instances(of: name, within: timeout).count)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.service < $1.service }
                }
            } catch let error as DiscoveryError {
                throw CommandFailure(command: command, "\(chosen.backendName) discovery: \(error.message)")
            }
            if json {
                print(try CommandOutput.json(entries))
            } else {
                print(CommandOutput.table(["SERVICE", "NODES"], entries.map { [$0.service, String($0.nodes)] }))
            }
        }
    }

    /// `body`'s result, or ``DiscoveryError/Code/unavailable`` after `timeout`.
    static func within<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else {
                throw DiscoveryError(.unavailable, "no answer within \(timeout)")
            }
            return value
        }
    }
}
