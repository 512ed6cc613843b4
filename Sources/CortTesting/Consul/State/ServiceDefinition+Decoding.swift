#if ConsulAgentDouble
import Foundation

/// The agent's request decoding: Go's `encoding/json` with unknown fields
/// disallowed, field names matched in any letter case, and the agent's own
/// snake_case aliases. Errors are the text after `Request decode failed: `.
extension ServiceDefinition {
    /// Decodes and validates a registration body; the error is the whole
    /// 400 text the agent answers with.
    static func decode(_ body: [UInt8]) -> Result<ServiceDefinition, ConsulAgentState.Failure> {
        let definition: ServiceDefinition
        do {
            definition = try ServiceDefinition(json: JSONBody.parse(body).get())
        } catch {
            return .failure(.init(status: 400, message: "Request decode failed: \(error.message)"))
        }
        if let problem = definition.validationError() { return .failure(.init(status: 400, message: problem)) }
        return .success(definition)
    }

    private static let fields: [String: String] = [
        "id": "ID", "name": "Name", "tags": "Tags", "address": "Address", "port": "Port", "meta": "Meta",
        "weights": "Weights", "check": "Check", "checks": "Checks",
        "enabletagoverride": "EnableTagOverride", "enable_tag_override": "EnableTagOverride",
        "taggedaddresses": "TaggedAddresses", "tagged_addresses": "TaggedAddresses",
        "kind": "Kind", "socketpath": "SocketPath", "proxy": "Proxy", "connect": "Connect",
        "namespace": "Namespace", "partition": "Partition", "token": "Token", "locality": "Locality",
    ]

    init(json: JSONValue) throws(JSONFieldError) {
        let object = try JSONFields(json, type: "structs.ServiceDefinition", known: Self.fields)
        self.init(id: try object.string("ID") ?? "", name: try object.string("Name") ?? "")
        tags = try object.strings("Tags") ?? []
        address = try object.string("Address") ?? ""
        port = try object.int("Port") ?? 0
        meta = try object.stringMap("Meta") ?? [:]
        enableTagOverride = try object.bool("EnableTagOverride") ?? false
        if let weights = try object.object("Weights", type: "structs.Weights",
                                           known: ["passing": "Passing", "warning": "Warning"]) {
            self.weights = Weights(passing: try weights.int("Passing") ?? 0, warning: try weights.int("Warning") ?? 0)
        }
        var checks: [CheckDefinition] = []
        if let check = try object.object("Check", type: "structs.CheckType", known: CheckDefinition.fields) {
            let definition = try CheckDefinition(fields: check)
            if !definition.isEmpty { checks.append(definition) }
        }
        for check in try object.objects("Checks", type: "structs.CheckType", known: CheckDefinition.fields) ?? [] {
            checks.append(try CheckDefinition(fields: check))
        }
        self.checks = checks
        if id.isEmpty { id = name }
    }

    /// The agent's checks after decoding, in its order.
    func validationError() -> String? {
        if name.isEmpty { return "Missing service name" }
        if let problem = Self.metaError(meta) { return "Invalid Service Meta: \(problem)" }
        if weights.passing < 1 { return "Invalid Weights: Passing must be greater than 0" }
        for check in checks {
            if let problem = check.validationError() { return "Invalid check: \(problem)" }
        }
        for check in checks where !check.status.isEmpty && !CheckStatus.isValid(check.status) {
            return "Status for checks must 'passing', 'warning', 'critical'"
        }
        if ["0.0.0.0", "::", "[::]", "::0", "0:0:0:0:0:0:0:0"].contains(address) { return "Invalid service address" }
        return nil
    }

    /// `structs.ValidateServiceMetadata`; keys are checked in sorted order
    /// so the answer does not depend on a map's order.
    static func metaError(_ meta: [String: String]) -> String? {
        if meta.count > 64 { return "Node metadata cannot contain more than 64 key/value pairs" }
        for key in meta.keys.sorted() {
            let value = meta[key] ?? ""
            let problem: String? =
                if key.isEmpty { "Key cannot be blank" }
                else if !key.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-") }) {
                    "Key contains invalid characters"
                }
                else if key.utf8.count > 128 { "Key is too long (limit: 128 characters)" }
                else if key.hasPrefix("consul-") { "Key prefix 'consul-' is reserved for internal use" }
                else if value.utf8.count > 512 { "Value is too long (limit: 512 characters)" }
                else { nil }
            if let problem { return "Couldn't load metadata pair ('\(key)', '\(value)'): \(problem)" }
        }
        return nil
    }
}

extension CheckDefinition {
    static let fields: [String: String] = [
        "checkid": "CheckID", "name": "Name", "status": "Status", "notes": "Notes",
        "ttl": "TTL", "interval": "Interval", "timeout": "Timeout",
        "deregistercriticalserviceafter": "DeregisterCriticalServiceAfter",
        "deregister_critical_service_after": "DeregisterCriticalServiceAfter",
        "scriptargs": "ScriptArgs", "script_args": "ScriptArgs", "args": "ScriptArgs",
        "http": "HTTP", "header": "Header", "method": "Method", "body": "Body", "disableredirects": "DisableRedirects",
        "tcp": "TCP", "tcpusetls": "TCPUseTLS", "udp": "UDP", "grpc": "GRPC", "grpcusetls": "GRPCUseTLS",
        "grpc_use_tls": "GRPCUseTLS", "h2ping": "H2PING", "h2pingusetls": "H2PingUseTLS",
        "aliasnode": "AliasNode", "aliasservice": "AliasService",
        "dockercontainerid": "DockerContainerID", "docker_container_id": "DockerContainerID", "shell": "Shell",
        "osservice": "OSService", "tlsservername": "TLSServerName", "tls_server_name": "TLSServerName",
        "tlsskipverify": "TLSSkipVerify", "tls_skip_verify": "TLSSkipVerify",
        "successbeforepassing": "SuccessBeforePassing", "failuresbeforewarning": "FailuresBeforeWarning",
        "failuresbeforecritical": "FailuresBeforeCritical", "outputmaxsize": "OutputMaxSize",
    ]

    private static let intervalKinds = ["ScriptArgs", "HTTP", "TCP", "UDP", "GRPC", "H2PING", "OSService"]
    private static let modelled: Set<String> = [
        "CheckID", "Name", "Status", "Notes", "TTL", "Interval", "Timeout", "DeregisterCriticalServiceAfter",
        "AliasNode", "AliasService",
    ]

    init(fields object: JSONFields) throws(JSONFieldError) {
        self.init()
        checkID = try object.string("CheckID") ?? ""
        name = try object.string("Name") ?? ""
        status = try object.string("Status") ?? ""
        notes = try object.string("Notes") ?? ""
        ttl = try object.duration("TTL") ?? .zero
        interval = try object.duration("Interval") ?? .zero
        timeout = try object.duration("Timeout") ?? .zero
        deregisterCriticalServiceAfter = try object.duration("DeregisterCriticalServiceAfter") ?? .zero
        if object.hasNonZero("ScriptArgs") {
            _ = try object.strings("ScriptArgs")
        }
        for kind in Self.intervalKinds where kind != "ScriptArgs" {
            if kind != "OSService" || object.hasNonZero(kind) { _ = try object.string(kind) }
        }
        isIntervalCheck = Self.intervalKinds.contains { object.hasNonZero($0) }
        isAliasCheck = object.hasNonZero("AliasNode") || object.hasNonZero("AliasService")
        hasOtherSettings = object.canonicalNames.contains { !Self.modelled.contains($0) && object.hasNonZero($0) }
    }
}

#endif
