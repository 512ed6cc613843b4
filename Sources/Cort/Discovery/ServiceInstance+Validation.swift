extension ServiceInstance {
    /// The transports a cort node can bind and a caller can connect to.
    public static let endpointSchemes = ["tcp://", "ipc://", "inproc://"]

    /// ZeroMQ refuses routing ids longer than this (`ZMQ_CONNECT_ROUTING_ID`).
    static let maximumIDLength = 255

    /// Throws ``DiscoveryError/Code/invalidInstance`` when the service name,
    /// id or endpoint cannot work: empty, with whitespace or control
    /// characters, an id longer than 255 UTF-8 bytes, or an endpoint whose
    /// transport is not `tcp://`, `ipc://` or `inproc://`.
    public func validate() throws {
        try Self.validate(serviceName: service)
        try Self.validate(word: id, what: "instance id", of: service)
        if id.utf8.count > Self.maximumIDLength {
            throw DiscoveryError(
                .invalidInstance,
                "instance id of service \"\(service)\" is \(id.utf8.count) bytes; ZeroMQ allows \(Self.maximumIDLength)"
            )
        }
        try Self.validate(endpoint: endpoint, of: service)
    }

    /// Throws ``DiscoveryError/Code/invalidInstance`` for an empty service
    /// name or one with whitespace or control characters.
    public static func validate(serviceName: String) throws {
        if serviceName.isEmpty {
            throw DiscoveryError(.invalidInstance, "service name is empty")
        }
        if serviceName.unicodeScalars.contains(where: isSpaceOrControl) {
            throw DiscoveryError(.invalidInstance, "service name \"\(serviceName)\" contains whitespace or control characters")
        }
    }

    static func validate(endpoint: String, of service: String) throws {
        guard let scheme = endpointSchemes.first(where: { endpoint.hasPrefix($0) }) else {
            throw DiscoveryError(
                .invalidInstance,
                "endpoint \"\(endpoint)\" of service \"\(service)\" does not start with tcp://, ipc:// or inproc://"
            )
        }
        if endpoint.count == scheme.count {
            throw DiscoveryError(.invalidInstance, "endpoint \"\(endpoint)\" of service \"\(service)\" has no address")
        }
        if endpoint.unicodeScalars.contains(where: isSpaceOrControl) {
            throw DiscoveryError(
                .invalidInstance,
                "endpoint \"\(endpoint)\" of service \"\(service)\" contains whitespace or control characters"
            )
        }
    }

    private static func validate(word: String, what: String, of service: String) throws {
        if word.isEmpty {
            throw DiscoveryError(.invalidInstance, "\(what) of service \"\(service)\" is empty")
        }
        if word.unicodeScalars.contains(where: isSpaceOrControl) {
            throw DiscoveryError(.invalidInstance, "\(what) \"\(word)\" of service \"\(service)\" contains whitespace or control characters")
        }
    }

    private static func isSpaceOrControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || scalar.properties.generalCategory == .control
    }
}
