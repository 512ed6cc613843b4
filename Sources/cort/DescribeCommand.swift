import ArgumentParser
import Cort

/// `cort describe SERVICE|ENDPOINT`: what a node hosts, and the methods of each service.
struct DescribeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "describe",
        abstract: "Show the services a node hosts and their distributed methods.",
        discussion: """
            TARGET is a service (its nodes come from discovery, chosen by CORT_DISCOVERY, \
            CORT_STATIC_SERVICES, CONSUL_HTTP_ADDR, as a node chooses it) or a node's \
            endpoint (tcp://host:port, with |KEY for a CURVE node). The first node that \
            answers is described: every service it hosts that this caller may call \
            (with CURVE, by the services' access rules), the hosted type, and each \
            distributed method's name (what `cort call` takes) and declaration. \
            Nodes on platforms other than Linux list their services without methods. \
            --json prints {"node", "instance", "services": [{"name", "type", "methods": \
            [{"name", "signature", "target", "idempotent"}]}]}.

            Exit codes: 0 described; 1 no node answered, discovery lists none or failed; \
            64 a usage error.
            """
    )

    @Argument(help: "A service, or a node's endpoint (tcp://host:port, or tcp://host:port|KEY).")
    var target: String

    @Flag(help: "Print JSON.")
    var json = false

    @Option(help: ArgumentHelp("How long to wait for discovery, and for the node's answer (500ms, 2s).",
                               valueName: "duration"))
    var timeout = TimeoutArgument("2s", .seconds(2))

    struct Output: Encodable {
        var node: String
        var instance: String
        var services: [Service]
    }

    struct Service: Encodable {
        var name: String
        var type: String
        var methods: [Method]
    }

    struct Method: Encodable {
        var name: String
        var signature: String
        var target: String
        var idempotent: Bool
    }

    func run() async throws {
        try await reportingFailures {
            let command = "describe"
            let chosen = try CommandDiscovery(command: command)
            let keys = try Security.fromEnvironment(command: command).keyPair
            let described = try await CommandNodes.describeFirst(
                target, command: command, chosen: chosen, keys: keys, timeout: timeout.duration)
            let output = Output(
                node: described.instance.endpoint, instance: described.instance.id,
                services: described.services.map { service in
                    Service(name: service.name, type: service.actorType, methods: service.methods.map {
                        Method(name: $0.name, signature: $0.signature, target: $0.target, idempotent: $0.isIdempotent)
                    })
                })
            if json {
                print(try CommandOutput.json(output))
                return
            }
            var lines = ["node \(output.node) (\(output.instance))"]
            if output.services.isEmpty { lines.append("hosts no service this caller may call") }
            for service in output.services {
                lines.append("")
                lines.append("service \(service.name): \(service.type)")
                if service.methods.isEmpty {
                    lines.append("  (the node lists no methods)")
                    continue
                }
                let table = CommandOutput.table(
                    ["  METHOD", "DECLARATION"],
                    service.methods.map { ["  " + $0.name, $0.signature + ($0.idempotent ? "  [idempotent]" : "")] })
                lines.append(table)
            }
            print(lines.joined(separator: "\n"))
        }
    }
}
