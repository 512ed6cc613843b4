import Distributed

/// A distributed actor that cort hosts and calls as a service: the type
/// names the service and declares the errors its methods throw, so nodes
/// and callers that share the type agree without repeating either.
///
/// ```swift
/// struct OutOfStock: Error, Codable, Sendable { var item: String }
///
/// distributed actor Inventory: CortService {
///     typealias ActorSystem = CortSystem
///     static let remoteErrors: [any (Error & Codable & Sendable).Type] = [OutOfStock.self]
///
///     distributed func reserve(_ item: String) throws -> Int {
///         throw OutOfStock(item: item)
///     }
/// }
///
/// // On a node:
/// try await node.host(replicas: 4) { Inventory(actorSystem: $0) }
/// // On a caller:
/// let inventory = try Inventory.service(in: caller)
/// do { _ = try await inventory.reserve("lamp") } catch let error as OutOfStock { print(error.item) }
/// ```
///
/// Conforming is optional: any distributed actor of ``CortSystem`` can be
/// hosted by name with `node.host("name", replicas:) { … }`
/// and resolved with `resolve(id: .service(name), using:)`.
public protocol CortService: DistributedActor where ActorSystem == CortSystem {
    /// The name discovery knows the service by. By default the type's name
    /// (`"Inventory"`); set it to keep a name stable across renames, or to
    /// match one used elsewhere (at most 256 bytes).
    static var serviceName: String { get }

    /// The error types its methods throw that callers get back as
    /// themselves (others arrive as ``RemoteCallError/Code/remoteApplicationError``).
    /// A type travels under its module-qualified name, so both sides must
    /// share the module that declares it. Default: none.
    static var remoteErrors: [any (Error & Codable & Sendable).Type] { get }
}

extension CortService {
    public static var serviceName: String { String(describing: Self.self) }

    public static var remoteErrors: [any (Error & Codable & Sendable).Type] { [] }

    /// A proxy to the service on any of its nodes, found through `system`'s
    /// discovery; calls through it take `options` as their defaults (the
    /// calling scope's ``withCallOptions(timeout:idempotent:metadata:isolation:_:)`` wins).
    ///
    /// ```swift
    /// let inventory = try Inventory.service(in: caller, options: CallOptions(timeout: .seconds(2)))
    /// ```
    public static func service(in system: CortSystem, options: CallOptions? = nil) throws -> Self {
        system.registerErrors(declaredBy: Self.self)
        var id = CortActorID.service(serviceName)
        id.callOptions = options
        return try resolve(id: id, using: system)
    }
}
