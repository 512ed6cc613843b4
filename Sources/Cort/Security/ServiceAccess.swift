/// Which callers may call a hosted service, and which of its methods:
/// authorization beyond "may connect", declared where the service is hosted.
///
/// Callers are named by their CURVE public keys, so rules other than
/// ``anyAllowedCaller`` need ``Security/curve(keyPair:allowedCallers:)``
/// (hosting with them on a plaintext system fails). A call the rules refuse
/// is answered ``RemoteCallError/Code/permissionDenied`` before it runs, and
/// failover never moves it.
///
/// ```swift
/// try await node.host(Ledger.self, replicas: 4,
///                     access: .callers([billing, reports])            // only these two
///                         .allowing([billing], toCall: "post(_:)"))    // and only billing posts
/// { Ledger(actorSystem: $0) }
/// ```
///
/// A method can also decide for itself from ``CallContext/caller``.
public struct ServiceAccess: Sendable, CustomStringConvertible {
    /// The callers allowed for every method, or nil for every caller the node lets connect.
    let callers: Set<CurveKey>?
    /// Methods restricted to their own callers (by name without the type: `post(_:)`).
    let methods: [String: Set<CurveKey>]

    /// Every caller the node lets connect may call every method (the default).
    public static let anyAllowedCaller = ServiceAccess(callers: nil, methods: [:])

    /// Only `keys` may call the service's methods.
    public static func callers(_ keys: some Sequence<CurveKey>) -> ServiceAccess {
        ServiceAccess(callers: Set(keys), methods: [:])
    }

    /// The same rules, with `method` (`"post(_:)"` or `"Ledger.post(_:)"`)
    /// callable only by `keys`, whatever the service-wide rule says.
    public func allowing(_ keys: some Sequence<CurveKey>, toCall method: String) -> ServiceAccess {
        var methods = self.methods
        methods[methodNameWithoutType(method), default: []].formUnion(keys)
        return ServiceAccess(callers: callers, methods: methods)
    }

    /// Whether this is ``anyAllowedCaller``.
    var isOpen: Bool { callers == nil && methods.isEmpty }

    /// Whether `caller` may call `method` (a readable name, `Ledger.post(_:)`).
    func allows(_ caller: CurveKey?, method: String) -> Bool {
        if isOpen { return true }
        guard let caller else { return false }
        if !methods.isEmpty, let keys = methods[methodNameWithoutType(method)] { return keys.contains(caller) }
        return callers?.contains(caller) ?? true
    }


    public var description: String {
        if isOpen { return "any allowed caller" }
        var parts: [String] = []
        if let callers { parts.append("\(callers.count) callers") }
        for (method, keys) in methods.sorted(by: { $0.key < $1.key }) { parts.append("\(method): \(keys.count) callers") }
        return parts.joined(separator: ", ")
    }
}
