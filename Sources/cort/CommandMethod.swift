import Cort
import CortMessagePack
import Foundation

/// What `cort call` and `cort bench` share: the method named on the command
/// line, found in what a node of the service describes, its JSON arguments
/// in MessagePack, and a caller system set up from the environment.
struct CommandMethod {
    /// The service called.
    let service: String
    /// The method, as the node described it.
    let method: MethodDescription
    /// The discovery backend the environment chose.
    let chosen: CommandDiscovery
    /// The caller's security, from the environment.
    let security: Security

    /// Finds `name` among the methods of `service`, as the first node
    /// discovery lists that answers a `describe` says.
    ///
    /// `name` is the readable name (`Greeter.hello(name:)`), or without the
    /// type (`hello(name:)`), or the bare method name (`hello`) when only one
    /// method has it.
    static func resolve(_ name: String, of service: String, command: String,
                        timeout: Duration) async throws -> CommandMethod {
        let chosen = try CommandDiscovery(command: command)
        let security = try Security.fromEnvironment(command: command)
        let described = try await CommandNodes.describeFirst(
            service, command: command, chosen: chosen, keys: security.keyPair, timeout: timeout)
        guard let hosted = described.services.first(where: { $0.name == service }) else {
            throw CommandFailure(command: command, "node \(described.instance.endpoint) does not let this caller "
                                 + "call service \"\(service)\"")
        }
        return CommandMethod(service: service, method: try find(name, in: hosted, command: command),
                             chosen: chosen, security: security)
    }

    static func find(_ name: String, in service: ServiceDescription, command: String) throws -> MethodDescription {
        let methods = service.methods
        if let exact = methods.first(where: { $0.name == name }) { return exact }
        let withoutType = methods.filter { methodNameWithoutType($0.name) == name }
        if withoutType.count == 1 { return withoutType[0] }
        let byBaseName = methods.filter { baseName($0.name) == name }
        if byBaseName.count == 1 { return byBaseName[0] }
        let known = methods.map(\.name).joined(separator: ", ")
        if byBaseName.count > 1 {
            throw CommandFailure(command: command, "\"\(name)\" names \(byBaseName.count) methods of service "
                                 + "\"\(service.name)\": \(byBaseName.map(\.name).joined(separator: ", ")); "
                                 + "give the labels")
        }
        throw CommandFailure(command: command, "service \"\(service.name)\" has no method \"\(name)\""
                             + (methods.isEmpty ? " (its node lists no methods)" : "; it has \(known)"))
    }

    /// `Greeter.hello(name:)` → `hello`.
    private static func baseName(_ name: String) -> String {
        let bare = methodNameWithoutType(name)
        return String(bare[..<(bare.firstIndex(of: "(") ?? bare.endIndex)])
    }

    /// `json` (a JSON array, an element per parameter) as the request's arguments.
    static func arguments(_ json: String, command: String) throws -> [[UInt8]] {
        let value: MessagePackValue
        do {
            value = try MessagePackValue(json: json)
        } catch {
            throw CommandFailure(command: command, "ARGS is not JSON: \(error)")
        }
        guard case .array(let elements) = value else {
            throw CommandFailure(command: command,
                                 #"ARGS is a JSON array with one element per parameter, like '["Ada"]' or '[]'"#)
        }
        return elements.map { $0.messagePack() }
    }

    /// A caller system for the calls, without an endpoint of its own.
    func startSystem() throws -> CortSystem {
        try CortSystem.start(.init(name: "cort-\(ProcessInfo.processInfo.processIdentifier)",
                                   discovery: chosen.discovery, security: security))
    }

    /// A result's MessagePack bytes as JSON text (`null` for a method that returns nothing).
    static func json(ofResult bytes: [UInt8]?, pretty: Bool) throws -> String {
        guard let bytes else { return "null" }
        return try MessagePackValue(messagePack: bytes).json(pretty: pretty)
    }
}

/// Finding and describing the nodes named on the command line.
enum CommandNodes {
    /// A node and what it described.
    struct Described {
        let instance: ServiceInstance
        let services: [ServiceDescription]
    }

    /// The nodes of `target`: an endpoint (`tcp://host:port`, with `|KEY`
    /// for a CURVE node, as in CORT_STATIC_SERVICES) or a service discovery knows.
    static func instances(of target: String, command: String, chosen: CommandDiscovery,
                          timeout: Duration) async throws -> [ServiceInstance] {
        if target.contains("://") {
            let parts = target.split(separator: "|", maxSplits: 1).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            var metadata: [String: String] = [:]
            if parts.count == 2 {
                guard (try? CurveKey(z85: parts[1])) != nil else {
                    throw CommandFailure(command: command, "the CURVE key after '|' is not 40 characters of Z85")
                }
                metadata[ServiceInstance.curveKeyMetadataKey] = parts[1]
            }
            return [ServiceInstance(service: "", id: "direct@\(parts[0])", endpoint: parts[0], metadata: metadata)]
        }
        let instances = try await chosen.instances(of: target, within: timeout, command: command)
        guard !instances.isEmpty else {
            throw CommandFailure(command: command,
                                 "\(chosen.backendName) discovery lists no node of service \"\(target)\"")
        }
        return instances
    }

    /// What the first node of `target` that answers describes; the others'
    /// failures are in the error when none answers.
    static func describeFirst(_ target: String, command: String, chosen: CommandDiscovery, keys: CurveKeyPair?,
                              timeout: Duration) async throws -> Described {
        let instances = try await instances(of: target, command: command, chosen: chosen, timeout: timeout)
        let probe = NodeProbe(keys: keys, timeout: timeout)
        var failures: [String] = []
        for instance in instances {
            switch await probe.describe(instance) {
            case .success(let services):
                return Described(instance: instance, services: services)
            case .failure(let failure):
                failures.append("\(instance.endpoint): \(failure)")
            }
        }
        throw CommandFailure(command: command, "no node could be described: " + failures.joined(separator: "; "))
    }
}
