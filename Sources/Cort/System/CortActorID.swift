/// The identity of a distributed actor in cort.
///
/// Two kinds of identity:
/// - a **service**: `CortActorID.service("greeter")` names every replica of a
///   hosted service on every node; calls are spread over the nodes discovery
///   reports for it;
/// - an **instance**: one actor on one node, reached at that node's endpoint.
///   Local actors get one when they are created; an instance reference can be
///   passed as an argument or returned, and resolves on the other side. The
///   system holds local actors weakly: keep an actor alive (for example in the
///   service that created it) for as long as others may call it; after that,
///   calls to it fail with ``RemoteCallError/Code/unknownTarget``.
///
/// ```swift
/// let greeter = try Greeter.resolve(id: .service("greeter"), using: system)
/// ```
///
/// An identity may carry ``callOptions``: the defaults of the calls made
/// through a proxy resolved with it (see ``CortService/service(in:options:)``).
/// They are not part of the identity: two identities that differ only in
/// them are equal, and they are not encoded when a reference is passed on.
public struct CortActorID: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The service (for instances: the service or type the actor belongs to).
    public var service: String
    /// The actor instance on its node, or nil for "any replica of the service".
    public var instance: String?
    /// The endpoint of the node that hosts the instance (nil for a service,
    /// or for an actor whose system serves no endpoint).
    public var endpoint: String?
    /// With CURVE, the public key (Z85) of the node that hosts the instance,
    /// so a reference passed on can be called with the handshake checked;
    /// nil for a service or in plaintext. Not part of the identity.
    public var nodeKey: String?
    /// Defaults for the calls made through a proxy with this identity; the
    /// options of the calling scope (``withCallOptions(timeout:idempotent:metadata:isolation:_:)``) win.
    public var callOptions: CallOptions?

    private enum CodingKeys: String, CodingKey {
        case service, instance, endpoint, nodeKey
    }

    public static func == (lhs: CortActorID, rhs: CortActorID) -> Bool {
        lhs.service == rhs.service && lhs.instance == rhs.instance && lhs.endpoint == rhs.endpoint
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(service)
        hasher.combine(instance)
        hasher.combine(endpoint)
    }

    /// An identity naming a whole service.
    public static func service(_ name: String) -> CortActorID {
        CortActorID(service: name, instance: nil, endpoint: nil)
    }

    /// Creates an identity.
    public init(service: String, instance: String?, endpoint: String?, nodeKey: String? = nil) {
        self.service = service
        self.instance = instance
        self.endpoint = endpoint
        self.nodeKey = nodeKey
    }

    /// Whether this names a whole service rather than one actor.
    public var isService: Bool { instance == nil }

    public var description: String {
        guard let instance else { return "service \(service)" }
        return "\(service)/\(instance)@\(endpoint ?? "local")"
    }
}
