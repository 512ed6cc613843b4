/// The status of a Consul health check.
public struct ConsulCheckStatus: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The status as Consul spells it (`passing`, `warning`, `critical`, `maintenance`).
    public let rawValue: String

    /// A status by Consul's name for it.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Healthy.
    public static let passing = ConsulCheckStatus(rawValue: "passing")
    /// Degraded; `?passing` queries leave such instances out.
    public static let warning = ConsulCheckStatus(rawValue: "warning")
    /// Failing (also a TTL check whose TTL ran out).
    public static let critical = ConsulCheckStatus(rawValue: "critical")

    /// Decodes Consul's string.
    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    /// Encodes Consul's string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The status as Consul spells it.
    public var description: String { rawValue }
}
