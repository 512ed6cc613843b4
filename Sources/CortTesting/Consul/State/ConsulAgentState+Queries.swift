#if ConsulAgentDouble
/// The read side: the JSON shapes the agent answers with, built from the
/// state. Arrays are never null, and a service is `Service` here where the
/// registration said `Name`.
extension ConsulAgentState {
    struct HealthEntry: Encodable, Equatable, Sendable {
        var node: NodeJSON
        var service: ServiceJSON
        var checks: [CheckJSON]

        enum CodingKeys: String, CodingKey {
            case node = "Node", service = "Service", checks = "Checks"
        }
    }

    struct NodeJSON: Encodable, Equatable, Sendable {
        var id: String
        var node: String
        var address: String
        var datacenter: String
        var taggedAddresses: [String: String]
        var meta: [String: String]

        enum CodingKeys: String, CodingKey {
            case id = "ID", node = "Node", address = "Address", datacenter = "Datacenter"
            case taggedAddresses = "TaggedAddresses", meta = "Meta"
        }
    }

    struct ServiceJSON: Encodable, Equatable, Sendable {
        var id: String
        var service: String
        var tags: [String]
        var address: String
        var meta: [String: String]
        var port: Int
        var weights: WeightsJSON
        var enableTagOverride: Bool

        enum CodingKeys: String, CodingKey {
            case id = "ID", service = "Service", tags = "Tags", address = "Address", meta = "Meta", port = "Port"
            case weights = "Weights", enableTagOverride = "EnableTagOverride"
        }
    }

    /// `GET /v1/agent/services` adds the datacenter to each service.
    struct AgentServiceJSON: Encodable, Equatable, Sendable {
        var service: ServiceJSON
        var datacenter: String

        enum CodingKeys: String, CodingKey { case datacenter = "Datacenter" }

        func encode(to encoder: any Encoder) throws {
            try service.encode(to: encoder)
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(datacenter, forKey: .datacenter)
        }
    }

    struct WeightsJSON: Encodable, Equatable, Sendable {
        var passing: Int
        var warning: Int

        enum CodingKeys: String, CodingKey { case passing = "Passing", warning = "Warning" }
    }

    struct CheckJSON: Encodable, Equatable, Sendable {
        var node: String
        var checkID: String
        var name: String
        var status: String
        var notes: String
        var output: String
        var serviceID: String
        var serviceName: String
        var serviceTags: [String]

        enum CodingKeys: String, CodingKey {
            case node = "Node", checkID = "CheckID", name = "Name", status = "Status", notes = "Notes"
            case output = "Output", serviceID = "ServiceID", serviceName = "ServiceName", serviceTags = "ServiceTags"
        }
    }

    private var nodeJSON: NodeJSON {
        let node = configuration.node
        return NodeJSON(id: node.id, node: node.name, address: node.address, datacenter: node.datacenter,
                        taggedAddresses: ["lan": node.address], meta: [:])
    }

    private var serfHealthJSON: CheckJSON {
        CheckJSON(node: configuration.node.name, checkID: "serfHealth", name: "Serf Health Status",
                  status: serfHealth, notes: "",
                  output: serfHealth == CheckStatus.passing ? "Agent alive and reachable" : "Agent not live or unreachable",
                  serviceID: "", serviceName: "", serviceTags: [])
    }

    private func serviceJSON(_ definition: ServiceDefinition) -> ServiceJSON {
        ServiceJSON(id: definition.id, service: definition.name, tags: definition.tags, address: definition.address,
                    meta: definition.meta, port: definition.port,
                    weights: WeightsJSON(passing: definition.weights.passing, warning: definition.weights.warning),
                    enableTagOverride: definition.enableTagOverride)
    }

    /// `GET /v1/health/service/<name>` before `?passing` and `?tag`: every
    /// instance, in service ID order, with the node's `serfHealth` first.
    func health(service name: String) -> [HealthEntry] {
        services.values.filter { $0.definition.name == name }
            .sorted { $0.definition.id < $1.definition.id }
            .map { service in
                let definition = service.definition
                let own = checks.values.filter { $0.serviceID == definition.id }.sorted { $0.id < $1.id }
                    .map { check in
                        CheckJSON(node: configuration.node.name, checkID: check.id, name: check.name,
                                  status: check.status, notes: check.notes, output: check.output,
                                  serviceID: definition.id, serviceName: definition.name,
                                  serviceTags: definition.tags)
                    }
                return HealthEntry(node: nodeJSON, service: serviceJSON(definition), checks: [serfHealthJSON] + own)
            }
    }

    /// The health answer after the filters: every `tags` element must be one
    /// of the instance's tags (in any letter case, as the catalog compares
    /// them), and with `passingOnly` every check must be `passing`.
    func health(service name: String, tags: [String], passingOnly: Bool) -> [HealthEntry] {
        health(service: name).filter { entry in
            let own = Set(entry.service.tags.map { $0.lowercased() })
            guard tags.allSatisfy({ own.contains($0.lowercased()) }) else { return false }
            return !passingOnly || entry.checks.allSatisfy { $0.status == CheckStatus.passing }
        }
    }

    /// `GET /v1/catalog/services`: each service name with its tags (each
    /// once, sorted: the servers give them in no set order), and the
    /// servers' own `consul` service.
    func catalogServices() -> [String: [String]] {
        var tags: [String: Set<String>] = ["consul": []]
        for service in services.values {
            tags[service.definition.name, default: []].formUnion(service.definition.tags)
        }
        return tags.mapValues { $0.sorted() }
    }

    /// `GET /v1/agent/services`: this agent's services by ID.
    func agentServices() -> [String: AgentServiceJSON] {
        services.mapValues { AgentServiceJSON(service: serviceJSON($0.definition), datacenter: configuration.node.datacenter) }
    }
}

#endif
