extension WireCodec {
    /// Reads one envelope frame.
    ///
    /// The header comes first: once `[version, kind, id]` is read, every error
    /// carries the id. A frame over `limits.maxEnvelopeBytes` is refused with
    /// `messageTooLarge` after the header alone. Everything that breaks the
    /// protocol (a wrong type, a missing or extra field, bytes after the array,
    /// a limit passed) is a `protocolError`.
    ///
    /// `names`: a node's recent names, so a request's service, target and
    /// method are read without allocating when they were seen before.
    package static func decode(_ bytes: UnsafeRawBufferPointer, limits: WireLimits,
                               names: RecentNames? = nil) throws(WireError) -> Envelope {
        guard !bytes.isEmpty else {
            throw WireError(id: nil, code: .protocolError, message: "empty frame")
        }
        var reader = WireReader(bytes)
        // Not bounded by the bytes left: a truncated frame must still yield its id.
        // The count is compared with the kind's (at most 11) before it is used.
        let fieldCount = try reader.readArrayHeader("envelope", bounded: false)
        guard fieldCount >= 3 else {
            throw reader.error("the envelope has \(fieldCount) elements; its header needs 3")
        }
        let version = try reader.readUInt("version")
        let kindNumber = try reader.readUInt("kind")
        let id = try reader.readUInt("id")
        reader.id = id

        guard version == WireFormat.version else {
            throw reader.error("unsupported version \(version); this node speaks \(WireFormat.version)")
        }
        guard bytes.count <= limits.maxEnvelopeBytes else {
            throw WireError(
                id: id, code: .messageTooLarge,
                message: "the envelope has \(bytes.count) bytes, more than the limit of \(limits.maxEnvelopeBytes)")
        }
        guard let kind = WireFormat.Kind(rawValue: kindNumber) else {
            throw reader.error("unknown envelope kind \(kindNumber)")
        }
        guard fieldCount == kind.fieldCount else {
            throw reader.error("a \(kind) envelope has \(kind.fieldCount) elements, this one has \(fieldCount)")
        }

        let envelope: Envelope
        switch kind {
        case .request:
            envelope = .request(try decodeRequest(id: id, &reader, limits: limits, names: names))
        case .reply:
            envelope = .reply(id: id, result: try reader.readOptionalBin("result"))
        case .error:
            let code = try reader.readUInt("code")
            let failure = CallFailure(
                code: code <= UInt64(UInt8.max) ? RemoteCallError.Code(wireValue: UInt8(code)) : .protocolError,
                message: try reader.readString("message"),
                errorType: try reader.readOptionalString("errorType"),
                errorPayload: try reader.readOptionalBin("errorPayload"))
            envelope = .failure(id: id, failure)
        case .cancel:
            envelope = .cancel(id: id)
        case .ping:
            envelope = .ping(sequence: id)
        case .pong:
            let freeSlots = try reader.readUInt("freeSlots")
            guard let slots = UInt32(exactly: freeSlots) else {
                throw reader.error("field 'freeSlots': \(freeSlots) does not fit in 32 bits")
            }
            envelope = .pong(sequence: id, freeSlots: slots, incarnation: try reader.readUInt("incarnation"))
        case .draining:
            envelope = .draining(incarnation: try reader.readUInt("incarnation"))
        case .describe:
            envelope = .describe(sequence: id)
        case .description:
            envelope = .description(sequence: id, services: try decodeDescription(&reader, limits: limits))
        case .batch:
            // Read with `WireBatch`; one found here is inside another.
            throw reader.error("a batch inside a batch (batches do not nest)")
        }
        guard reader.remaining == 0 else {
            throw reader.error("\(reader.remaining) bytes after the envelope")
        }
        return envelope
    }

    /// The kind of an envelope from its header alone, without reading the
    /// rest; nil when the header is not a well-formed one of this version.
    /// For shedding frames cheaply: anything it accepts still goes through
    /// ``decode(_:limits:)`` before it is acted on.
    static func kind(of bytes: UnsafeRawBufferPointer) -> WireFormat.Kind? {
        header(of: bytes)?.kind
    }

    /// The kind and id of an envelope from its header alone; nil when the
    /// header is not a well-formed one of this version.
    static func header(of bytes: UnsafeRawBufferPointer) -> (kind: WireFormat.Kind, id: UInt64)? {
        guard !bytes.isEmpty else { return nil }
        var reader = WireReader(bytes)
        guard let fieldCount = try? reader.readArrayHeader("envelope", bounded: false), fieldCount >= 3,
              (try? reader.readUInt("version")) == WireFormat.version,
              let kindNumber = try? reader.readUInt("kind"), let kind = WireFormat.Kind(rawValue: kindNumber),
              let id = try? reader.readUInt("id") else { return nil }
        return (kind, id)
    }

    /// A description's services; each string within the wire's own name limits.
    private static func decodeDescription(_ reader: inout WireReader,
                                          limits: WireLimits) throws(WireError) -> [ServiceDescription] {
        let count = try reader.readArrayHeader("services")
        var services: [ServiceDescription] = []
        for _ in 0..<count {
            guard try reader.readArrayHeader("service") == 3 else {
                throw reader.error("a described service has 3 elements: name, type, methods")
            }
            let name = try reader.readString("service name", maxBytes: limits.maxNameBytes)
            let actorType = try reader.readString("actor type", maxBytes: limits.maxTargetBytes)
            let methodCount = try reader.readArrayHeader("methods")
            var methods: [MethodDescription] = []
            for _ in 0..<methodCount {
                guard try reader.readArrayHeader("method") == 4 else {
                    throw reader.error("a described method has 4 elements: name, signature, target, flags")
                }
                let method = try reader.readString("method name", maxBytes: limits.maxMethodBytes)
                let signature = try reader.readString("signature", maxBytes: limits.maxTargetBytes)
                let target = try reader.readString("target", maxBytes: limits.maxTargetBytes)
                let flags = try reader.readUInt("method flags")
                methods.append(MethodDescription(name: method, signature: signature, target: target,
                                                 isIdempotent: flags & 1 == 1))
            }
            services.append(ServiceDescription(name: name, actorType: actorType, methods: methods))
        }
        return services
    }

    private static func decodeRequest(
        id: UInt64, _ reader: inout WireReader, limits: WireLimits, names: RecentNames?
    ) throws(WireError) -> CallRequest {
        let service = try reader.readString("service", maxBytes: limits.maxNameBytes, names: names)
        let actor = try reader.readOptionalString("actor", maxBytes: limits.maxNameBytes)
        let target = try reader.readString("target", maxBytes: limits.maxTargetBytes, names: names)
        let method = try reader.readString("method", maxBytes: limits.maxMethodBytes, names: names)
        let timeout = try reader.readUInt("timeout")
        // Reserved bits are ignored (docs/PROTOCOL.md), so a newer caller's flags never fail a call.
        let flags = CallFlags(rawValue: UInt32(truncatingIfNeeded: try reader.readUInt("flags")))
            .intersection(.known)

        let entries = try reader.readMapHeader("metadata")
        guard entries <= limits.maxMetadataEntries else {
            throw reader.error("metadata has \(entries) entries, more than the limit of \(limits.maxMetadataEntries)")
        }
        var metadata: [String: String] = [:]
        if entries > 0 {
            // init(minimumCapacity:) is specialized; reserveCapacity is a generic runtime call.
            metadata = Dictionary(minimumCapacity: entries)
            for _ in 0..<entries {
                let key = try reader.readString("metadata key", maxBytes: limits.maxMetadataFieldBytes)
                let value = try reader.readString("metadata value", maxBytes: limits.maxMetadataFieldBytes)
                guard metadata.updateValue(value, forKey: key) == nil else {
                    throw reader.error("metadata has a key twice")
                }
            }
        }

        let count = try reader.readArrayHeader("arguments")
        guard count <= limits.maxArguments else {
            throw reader.error("the request has \(count) arguments, more than the limit of \(limits.maxArguments)")
        }
        var arguments: [[UInt8]] = []
        if count > 0 {
            arguments.reserveCapacity(count)
            for _ in 0..<count {
                arguments.append(try reader.readBin("argument"))
            }
        }
        return CallRequest(
            id: id, service: service, actor: actor, target: target, method: method,
            timeout: Duration(wireNanoseconds: timeout), flags: flags, metadata: metadata, arguments: arguments)
    }
}
