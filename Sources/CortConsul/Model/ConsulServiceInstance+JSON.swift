/// The wire shape of one health entry; decoding is lenient about absent optional fields
/// (older agents send `null` for empty lists) and strict about the ones cort needs.
struct HealthEntryWire: Decodable {
    struct NodeWire: Decodable {
        var Node: String
        var Address: String
        var Datacenter: String?
    }

    struct ServiceWire: Decodable {
        var ID: String
        var Service: String
        var Tags: [String]?
        var Address: String?
        var Meta: [String: String]?
        var Port: Int
    }

    struct CheckWire: Decodable {
        var CheckID: String
        var Name: String?
        var Status: String
        var Output: String?
        var ServiceID: String?
    }

    var Node: NodeWire
    var Service: ServiceWire
    var Checks: [CheckWire]?

    var instance: ConsulServiceInstance {
        let ownAddress = self.Service.Address ?? ""
        return ConsulServiceInstance(
            id: self.Service.ID,
            service: self.Service.Service,
            address: ownAddress.isEmpty ? self.Node.Address : ownAddress,
            port: self.Service.Port,
            tags: self.Service.Tags ?? [],
            meta: self.Service.Meta ?? [:],
            node: self.Node.Node,
            nodeAddress: self.Node.Address,
            datacenter: self.Node.Datacenter,
            checks: (self.Checks ?? []).map {
                ConsulHealthCheck(
                    id: $0.CheckID, name: $0.Name ?? "", status: ConsulCheckStatus(rawValue: $0.Status),
                    output: $0.Output ?? "", serviceID: $0.ServiceID ?? "")
            })
    }
}
