extension ConsulServiceRegistration: Encodable {
    private enum Keys: String, CodingKey {
        case id = "ID", name = "Name", address = "Address", port = "Port", tags = "Tags", meta = "Meta", check = "Check"
    }

    /// Encodes the agent's JSON (`ID`, `Name`, ..., durations as Go durations such as `10s`).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encodeIfPresent(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encodeIfPresent(address, forKey: .address)
        try container.encodeIfPresent(port, forKey: .port)
        try container.encode(tags, forKey: .tags)
        try container.encode(meta, forKey: .meta)
        try container.encodeIfPresent(check, forKey: .check)
    }
}

extension ConsulServiceRegistration.TTLCheck: Encodable {
    private enum Keys: String, CodingKey {
        case ttl = "TTL", deregister = "DeregisterCriticalServiceAfter", status = "Status"
        case id = "CheckID", name = "Name", notes = "Notes"
    }

    /// Encodes the agent's JSON for a check (`TTL`, `DeregisterCriticalServiceAfter`, ...).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(ttl.goDuration, forKey: .ttl)
        try container.encodeIfPresent(deregisterCriticalServiceAfter?.goDuration, forKey: .deregister)
        try container.encodeIfPresent(initialStatus, forKey: .status)
        try container.encodeIfPresent(id, forKey: .id)
        try container.encodeIfPresent(name, forKey: .name)
        try container.encodeIfPresent(notes, forKey: .notes)
    }
}
