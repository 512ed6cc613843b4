/// One remote call as it travels from caller to node (the envelope kind `request`).
///
/// ```swift
/// let request = CallRequest(
///     id: 7, service: "greeter", actor: nil,
///     target: "$s3das7GreeterC5hello4name5timesS2S_SitYaKFTE",
///     method: "Greeter.hello(name:times:)", timeout: .seconds(2),
///     flags: [.idempotent], metadata: ["traceparent": "00-…"],
///     arguments: [encodedName, encodedTimes])
/// ```
///
/// A value type whose fields live in one object, copied when a copy is
/// changed: a request is copied on its way (out of the envelope, into the
/// node's table of calls, into the worker's job), and a copy of its nine
/// fields retained each string, the dictionary and the array (about 20
/// retains and as many releases a call on a node, callgrind); a copy of
/// this retains one object.
package struct CallRequest: Sendable, Equatable {
    /// The fields. `@unchecked Sendable`: a storage is changed only through
    /// a request that holds the only reference to it (``unique()``), so no
    /// two threads ever see one storage change.
    private final class Storage: @unchecked Sendable {
        @exclusivity(unchecked) var id: UInt64
        @exclusivity(unchecked) var service: String
        @exclusivity(unchecked) var actor: String?
        @exclusivity(unchecked) var target: String
        @exclusivity(unchecked) var method: String
        @exclusivity(unchecked) var timeout: Duration
        @exclusivity(unchecked) var flags: CallFlags
        @exclusivity(unchecked) var metadata: [String: String]
        @exclusivity(unchecked) var arguments: [[UInt8]]

        init(id: UInt64, service: String, actor: String?, target: String, method: String, timeout: Duration,
             flags: CallFlags, metadata: [String: String], arguments: [[UInt8]]) {
            self.id = id
            self.service = service
            self.actor = actor
            self.target = target
            self.method = method
            self.timeout = timeout
            self.flags = flags
            self.metadata = metadata
            self.arguments = arguments
        }

        func copy() -> Storage {
            Storage(id: id, service: service, actor: actor, target: target, method: method, timeout: timeout,
                    flags: flags, metadata: metadata, arguments: arguments)
        }
    }

    private var storage: Storage

    /// The storage, made this request's own first if another request shares it.
    private mutating func unique() -> Storage {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return storage
    }

    /// The call id, chosen by the caller and unique per caller socket.
    package var id: UInt64 {
        get { storage.id }
        _modify {
            let storage = unique()
            yield &storage.id
        }
    }

    /// The hosted service's name (`greeter`).
    package var service: String {
        get { storage.service }
        _modify {
            let storage = unique()
            yield &storage.service
        }
    }

    /// A specific actor instance on the node, or nil for any replica of the service.
    package var actor: String? {
        get { storage.actor }
        _modify {
            let storage = unique()
            yield &storage.actor
        }
    }

    /// The distributed target's identifier (Swift's mangled name).
    package var target: String {
        get { storage.target }
        _modify {
            let storage = unique()
            yield &storage.target
        }
    }

    /// A readable name for logs and metrics (`Greeter.hello(name:)`).
    package var method: String {
        get { storage.method }
        _modify {
            let storage = unique()
            yield &storage.method
        }
    }

    /// Time left to the caller's deadline when the request was sent. It travels
    /// as whole nanoseconds: negative durations are sent as zero, sub-nanosecond
    /// parts are dropped, and durations beyond `UInt64.max` ns are clamped.
    package var timeout: Duration {
        get { storage.timeout }
        _modify {
            let storage = unique()
            yield &storage.timeout
        }
    }

    /// Per-call options.
    package var flags: CallFlags {
        get { storage.flags }
        _modify {
            let storage = unique()
            yield &storage.flags
        }
    }

    /// Trace context (`traceparent`, `tracestate`) and other call metadata.
    package var metadata: [String: String] {
        get { storage.metadata }
        _modify {
            let storage = unique()
            yield &storage.metadata
        }
    }

    /// Each argument, MessagePack-encoded, in order.
    package var arguments: [[UInt8]] {
        get { storage.arguments }
        _modify {
            let storage = unique()
            yield &storage.arguments
        }
    }

    package init(
        id: UInt64, service: String, actor: String? = nil, target: String, method: String,
        timeout: Duration, flags: CallFlags = [], metadata: [String: String] = [:],
        arguments: [[UInt8]] = []
    ) {
        storage = Storage(id: id, service: service, actor: actor, target: target, method: method, timeout: timeout,
                          flags: flags, metadata: metadata, arguments: arguments)
    }

    package static func == (first: CallRequest, second: CallRequest) -> Bool {
        if first.storage === second.storage { return true }
        return first.id == second.id && first.service == second.service && first.actor == second.actor
            && first.target == second.target && first.method == second.method && first.timeout == second.timeout
            && first.flags == second.flags && first.metadata == second.metadata && first.arguments == second.arguments
    }
}
