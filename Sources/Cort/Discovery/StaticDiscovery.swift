#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Discovery from a fixed list of endpoints, given in code or by an
/// environment variable: for one machine, scripts and tests, where nodes do
/// not come and go.
///
/// Each endpoint becomes an instance with id `"<service>@<endpoint>"`.
/// ``watch(service:)`` yields the service's list once (empty for a service it
/// does not know) and stays open until the consumer stops iterating.
/// ``register(_:)`` and ``deregister(_:)`` succeed without changing anything:
/// a static list does not change, and a node that registers itself must not
/// fail just because its callers find it by a fixed address.
///
/// With CURVE security, each endpoint carries its node's public key after
/// a `|` (Z85 has no `|`, `,`, `;` or space, so it needs no escaping; quote
/// it in a shell, for Z85's `$`, `&` and `<`):
///
/// ```swift
/// // CORT_STATIC_SERVICES="greeter=tcp://10.0.0.5:5555,tcp://10.0.0.6:5555;echo=tcp://10.0.0.7:6000"
/// let discovery = try StaticDiscovery(environmentVariable: "CORT_STATIC_SERVICES")
/// let local = try StaticDiscovery(["greeter": ["tcp://127.0.0.1:5555"]])
/// // CORT_STATIC_SERVICES='greeter=tcp://10.0.0.5:5555|rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'
/// let secure = try StaticDiscovery(["greeter": ["tcp://10.0.0.5:5555|rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"]])
/// ```
public struct StaticDiscovery: Discovery {
    /// service → instances sorted by id
    public let instances: [String: [ServiceInstance]]

    /// The environment variable ``init(environmentVariable:environment:)`` reads by default.
    public static let defaultEnvironmentVariable = "CORT_STATIC_SERVICES"

    /// Fixed endpoints per service (service → endpoints), each optionally
    /// with its node's CURVE public key: `tcp://10.0.0.5:5555|<40 characters of Z85>`.
    ///
    /// - Throws: ``DiscoveryError/Code/invalidInstance`` for an invalid
    ///   service name, endpoint or key, or an endpoint listed twice for one service.
    public init(_ endpoints: [String: [String]]) throws {
        var instances: [ServiceInstance] = []
        for (service, serviceEndpoints) in endpoints {
            var seen: Set<String> = []
            for entry in serviceEndpoints {
                let (endpoint, key) = try Self.splitKey(entry, service: service)
                if !seen.insert(endpoint).inserted {
                    throw DiscoveryError(.invalidInstance, "endpoint \"\(endpoint)\" is listed twice for service \"\(service)\"")
                }
                instances.append(ServiceInstance(
                    service: service, id: "\(service)@\(endpoint)", endpoint: endpoint,
                    metadata: key.map { [ServiceInstance.curveKeyMetadataKey: $0.z85] } ?? [:]))
            }
            if serviceEndpoints.isEmpty {
                try ServiceInstance.validate(serviceName: service)
            }
        }
        try self.init(instances: instances)
    }

    /// Fixed instances, with ids, tags and metadata of your choosing.
    ///
    /// - Throws: ``DiscoveryError/Code/invalidInstance`` for an instance that
    ///   fails ``ServiceInstance/validate()`` or an id used twice in one service.
    public init(instances: [ServiceInstance]) throws {
        var byService: [String: [ServiceInstance]] = [:]
        for instance in instances {
            try instance.validate()
            if byService[instance.service]?.contains(where: { $0.id == instance.id }) == true {
                throw DiscoveryError(.invalidInstance, "instance id \"\(instance.id)\" is used twice for service \"\(instance.service)\"")
            }
            byService[instance.service, default: []].append(instance)
        }
        self.instances = byService.mapValues { $0.sorted { $0.id < $1.id } }
    }

    /// Endpoints from an environment variable in the form
    /// `service=endpoint,endpoint;service=endpoint` (spaces around names and
    /// endpoints are ignored; a trailing `;` is allowed).
    ///
    /// - Parameters:
    ///   - variable: the variable's name, `CORT_STATIC_SERVICES` by default.
    ///   - environment: where to read it; the process's environment by default.
    /// - Throws: ``DiscoveryError/Code/malformedConfiguration`` when the
    ///   variable is unset or empty, or any entry cannot be parsed; the message
    ///   names the variable and the entry, the `cause` is the underlying
    ///   validation error when there is one.
    public init(
        environmentVariable variable: String = StaticDiscovery.defaultEnvironmentVariable,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        guard let text = environment[variable] else {
            throw DiscoveryError(.malformedConfiguration, "\(variable) is not set")
        }
        let endpoints = try Self.parse(text, variable: variable)
        do {
            try self.init(endpoints)
        } catch let error as DiscoveryError {
            throw DiscoveryError(.malformedConfiguration, "\(variable): \(error.message)", cause: error)
        }
    }

    /// Succeeds without changing anything: a static list does not change.
    public func register(_ instance: ServiceInstance) async throws {}

    /// Succeeds without changing anything: a static list does not change.
    public func deregister(_ instance: ServiceInstance) async throws {}

    /// The service's fixed list once (empty if unknown); open until the consumer stops iterating.
    public func watch(service: String) -> AsyncThrowingStream<[ServiceInstance], any Error> {
        let (stream, continuation) = AsyncThrowingStream<[ServiceInstance], any Error>.makeStream(
            bufferingPolicy: .bufferingNewest(1)
        )
        // Never finished: the consumer's cancellation ends the stream and
        // frees the continuation; nothing else holds it.
        continuation.yield(instances[service] ?? [])
        return stream
    }

    /// The services of the fixed list that have endpoints, sorted.
    public func services() async throws -> [String] {
        instances.keys.sorted()
    }

    /// `endpoint|key` → the endpoint and the key; `endpoint` → it and nil.
    static func splitKey(_ entry: String, service: String) throws -> (String, CurveKey?) {
        guard let bar = entry.firstIndex(of: "|") else { return (entry, nil) }
        let endpoint = String(entry[..<bar]).trimmingSpaces()
        let text = String(entry[entry.index(after: bar)...]).trimmingSpaces()
        do {
            return (endpoint, try CurveKey(z85: text))
        } catch {
            // The key is public, but a secret key pasted by mistake must not end up in logs.
            throw DiscoveryError(.invalidInstance, "the CURVE key of \(endpoint) for service \"\(service)\" after '|' "
                                 + "is not a key: it needs 40 characters of Z85 (got \(text.utf8.count))")
        }
    }

    static func parse(_ text: String, variable: String) throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        let entries = text.split(separator: ";", omittingEmptySubsequences: false)
        for (index, rawEntry) in entries.enumerated() {
            let entry = rawEntry.trimmingSpaces()
            let position = "entry \(index + 1) (\"\(entry)\")"
            if entry.isEmpty {
                // A trailing ";" is harmless; an empty entry in the middle is a typo.
                if index == entries.count - 1 && index > 0 { continue }
                throw DiscoveryError(.malformedConfiguration, "\(variable): entry \(index + 1) is empty")
            }
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw DiscoveryError(.malformedConfiguration, "\(variable): \(position) has no '='")
            }
            let service = parts[0].trimmingSpaces()
            if service.isEmpty {
                throw DiscoveryError(.malformedConfiguration, "\(variable): \(position) has no service name before '='")
            }
            if result[service] != nil {
                throw DiscoveryError(.malformedConfiguration, "\(variable): service \"\(service)\" is listed twice")
            }
            let endpointList = parts[1].trimmingSpaces()
            if endpointList.isEmpty {
                throw DiscoveryError(.malformedConfiguration, "\(variable): \(position) lists no endpoints")
            }
            var endpoints: [String] = []
            for rawEndpoint in endpointList.split(separator: ",", omittingEmptySubsequences: false) {
                let endpoint = rawEndpoint.trimmingSpaces()
                if endpoint.isEmpty {
                    throw DiscoveryError(.malformedConfiguration, "\(variable): \(position) has an empty endpoint")
                }
                endpoints.append(endpoint)
            }
            result[service] = endpoints
        }
        return result
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (no CharacterSet, so no full Foundation).
    fileprivate func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}
