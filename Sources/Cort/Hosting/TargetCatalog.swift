import Distributed
import Synchronization

/// Which distributed targets a node runs on which actor types, decided
/// exactly and remembered within a hard bound.
///
/// Swift's runtime would run any distributed method on any actor it is
/// handed, so a request naming another type's method, or a name made up to
/// look like one, must be refused before it gets there. A target belongs to
/// a type when Swift's demangler reads it as the distributed thunk of a
/// method (or computed property) declared on that very type: the text must
/// begin with `distributed thunk <Module>.<Type>.` followed by the member's
/// name, so a nested type's method, or a parameter that merely mentions the
/// type, does not pass. Whether such a method really exists is the
/// runtime's answer when the call runs (``confirm(_:)``); only targets the
/// runtime found are remembered, and at most `capacity` of them, so made-up
/// names cost a demangling each and never memory.
///
/// ```swift
/// let catalog = TargetCatalog(capacity: 4096)
/// if let target = catalog.lookUp(request.target, on: "Shop.Greeter") {
///     // target.method == "Greeter.hello(name:)", target.parameterCount == 1
/// }
/// ```
final class TargetCatalog: Sendable {
    /// What a node knows of a target of one actor type.
    ///
    /// A class: every call carries its target from the intake to the worker,
    /// and a copy of a class is one retain where a copy of these fields was five.
    final class Target: Sendable {
        /// `"Module.Type"`, as `String(reflecting:)` names the actor type.
        let actorType: String
        /// The mangled identifier.
        let identifier: String
        /// The readable name (`Greeter.hello(name:)`), this node's own reading.
        let method: String
        /// The method's name and labels (`hello(name:)`), as a generated
        /// dispatch (`@CortService`) names it.
        let dispatchKey: String
        /// How many arguments the method takes.
        let parameterCount: Int
        /// Runs it without reading its types again; set once the runtime ran it.
        let dispatch: DirectDispatch?
        /// Whether a generated dispatch runs it: 0 not decided yet, 1 yes, 2 no
        /// (see ``isGenerated(in:)``).
        private let generated = Atomic<UInt8>(0)
        /// Whether the generated dispatch runs it without an async call (the
        /// method is not `async`): 0 not known yet, 1 yes, 2 no.
        private let synchronous = Atomic<UInt8>(0)

        init(actorType: String, identifier: String, method: String, parameterCount: Int,
             dispatch: DirectDispatch? = nil) {
            self.actorType = actorType
            self.identifier = identifier
            self.method = method
            dispatchKey = methodNameWithoutType(method)
            self.parameterCount = parameterCount
            self.dispatch = dispatch
        }

        /// Whether `keys`, the keys a generated dispatch of this target's
        /// actor type may run (``ReplicaDispatch/keys``), hold this target's.
        /// Decided on its first call and remembered: the keys are read once
        /// per actor type, so every replica's dispatch has the same (a
        /// look-up in them was about 430 instructions a call, callgrind).
        func isGenerated(in keys: Set<String>) -> Bool {
            switch generated.load(ordering: .relaxed) {
            case 1: return true
            case 2: return false
            default:
                let found = keys.contains(dispatchKey)
                generated.store(found ? 1 : 2, ordering: .relaxed)
                return found
            }
        }

        /// False once a generated dispatch's synchronous half said it has no
        /// case for this target (its method is `async`).
        var mayRunSynchronously: Bool { synchronous.load(ordering: .relaxed) != 2 }

        /// What the synchronous half did with this target's first call.
        func noteSynchronous(_ ran: Bool) {
            if synchronous.load(ordering: .relaxed) == 0 { synchronous.store(ran ? 1 : 2, ordering: .relaxed) }
        }
    }

    /// A target of one actor type: the two names as they are (no string
    /// built per call to look one up).
    private struct Key: Hashable {
        let actorType: String
        let identifier: String
    }

    private let confirmed = Mutex<[Key: Target]>([:])
    /// The most targets remembered.
    let capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = max(capacity, 0)
    }

    /// The target `identifier` of `actorType`, or nil when it is not a
    /// distributed member of that type.
    func lookUp(_ identifier: String, on actorType: String) -> Target? {
        let key = Key(actorType: actorType, identifier: identifier)
        if let known = confirmed.withLock({ $0[key] }) { return known }
        return Self.read(identifier, on: actorType)
    }

    /// The runtime ran `target` (it found its accessor): remember it, with
    /// its types read for ``DirectDispatch``, while there is room.
    func confirm(_ target: Target) {
        guard target.dispatch == nil else { return }
        let key = Key(actorType: target.actorType, identifier: target.identifier)
        guard confirmed.withLock({ $0[key] == nil && $0.count < capacity }) else { return }
        let known = Target(actorType: target.actorType, identifier: target.identifier, method: target.method,
                           parameterCount: target.parameterCount, dispatch: DirectDispatch(target: target.identifier))
        confirmed.withLock { confirmed in
            if confirmed[key] == nil, confirmed.count < capacity { confirmed[key] = known }
        }
    }

    /// How many targets are remembered (for tests).
    var count: Int { confirmed.withLock { $0.count } }

    static func read(_ identifier: String, on actorType: String) -> Target? {
        guard identifier.hasSuffix("TE"), let demangled = demangle(identifier) else { return nil }
        var text = Substring(demangled)
        let thunk = "distributed thunk "
        guard text.hasPrefix(thunk) else { return nil }
        text = text.dropFirst(thunk.count)
        // A method declared in an extension in another module.
        if text.hasPrefix("(extension in "), let colon = text.firstIndex(of: ":") {
            text = text[text.index(after: colon)...]
        }
        guard text.hasPrefix(actorType + ".") else { return nil }
        let member = text.dropFirst(actorType.count + 1)
        // The member's name runs to its parameter list, or to " : " for a computed property.
        guard let end = member.firstIndex(where: { $0 == "(" || $0 == " " || $0 == "<" }) else { return nil }
        var name = member[..<end]
        if member[end] == " " {
            guard name.hasSuffix(".getter") else { return nil }
            name = name.dropLast(".getter".count)
        }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        guard let method = methodName(fromDemangled: demangled) else { return nil }
        let count = _getParameterCount(mangledMethodName: identifier)
        guard count >= 0 else { return nil }
        return Target(actorType: actorType, identifier: identifier, method: method, parameterCount: Int(count))
    }
}
