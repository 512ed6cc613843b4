/// Writes and reads cort's wire envelopes (docs/PROTOCOL.md, version 1).
///
/// The envelope's shapes are small and fixed, and one is on every call, so
/// they are written and read directly as MessagePack rather than through the
/// Codable coders: encoding sizes the frame first and writes it in one pass;
/// decoding reads the header (`[version, kind, id]`) first, so that whatever
/// is wrong with the rest, the `WireError` carries the call id to answer with.
///
/// ```swift
/// var frame: [UInt8] = []
/// WireCodec.encode(.request(request), into: &frame)
/// let envelope = try frame.withUnsafeBytes { try WireCodec.decode($0, limits: WireLimits()) }
/// ```
package enum WireCodec {
    /// Appends `envelope`'s MessagePack bytes to `buffer`.
    ///
    /// It does not check `WireLimits`: the sender compares the frame's size
    /// with its limit, as the receiver will.
    package static func encode(_ envelope: Envelope, into buffer: inout [UInt8]) {
        switch envelope {
        case .request(let request):
            encodeRequest(request, id: request.id, timeout: request.timeout, into: &buffer)
        case .reply(let id, let result):
            let size =
                1 + 2 + WireWriter.uintSize(id) + (result.map { WireWriter.binSize($0.count) } ?? 1)
            append(size, to: &buffer) { writer in
                writer.writeArrayHeader(4)
                writer.writeUInt(WireFormat.version)
                writer.writeUInt(WireFormat.Kind.reply.rawValue)
                writer.writeUInt(id)
                writer.writeOptionalBin(result)
            }
        case .failure(let id, let failure):
            let size =
                1 + 2 + WireWriter.uintSize(id) + WireWriter.uintSize(UInt64(failure.code.wireValue))
                + WireWriter.stringSize(failure.message.utf8.count)
                + (failure.errorType.map { WireWriter.stringSize($0.utf8.count) } ?? 1)
                + (failure.errorPayload.map { WireWriter.binSize($0.count) } ?? 1)
            append(size, to: &buffer) { writer in
                writer.writeArrayHeader(7)
                writer.writeUInt(WireFormat.version)
                writer.writeUInt(WireFormat.Kind.error.rawValue)
                writer.writeUInt(id)
                writer.writeUInt(UInt64(failure.code.wireValue))
                writer.writeString(failure.message)
                writer.writeOptionalString(failure.errorType)
                writer.writeOptionalBin(failure.errorPayload)
            }
        case .cancel(let id):
            encodeHeaderOnly(.cancel, id, into: &buffer)
        case .ping(let sequence):
            encodeHeaderOnly(.ping, sequence, into: &buffer)
        case .pong(let sequence, let freeSlots, let incarnation):
            let size = 1 + 2 + WireWriter.uintSize(sequence) + WireWriter.uintSize(UInt64(freeSlots))
                + WireWriter.uintSize(incarnation)
            append(size, to: &buffer) { writer in
                writer.writeArrayHeader(5)
                writer.writeUInt(WireFormat.version)
                writer.writeUInt(WireFormat.Kind.pong.rawValue)
                writer.writeUInt(sequence)
                writer.writeUInt(UInt64(freeSlots))
                writer.writeUInt(incarnation)
            }
        case .describe(let sequence):
            encodeHeaderOnly(.describe, sequence, into: &buffer)
        case .description(let sequence, let services):
            encodeDescription(sequence, services, into: &buffer)
        case .draining(let incarnation):
            append(1 + 2 + 1 + WireWriter.uintSize(incarnation), to: &buffer) { writer in
                writer.writeArrayHeader(4)
                writer.writeUInt(WireFormat.version)
                writer.writeUInt(WireFormat.Kind.draining.rawValue)
                writer.writeUInt(0)
                writer.writeUInt(incarnation)
            }
        }
    }

    /// Appends the request envelope of `request` sent as call `id` with
    /// `timeout` left (its own `id` and `timeout` are not read): a caller
    /// sends each attempt under its own id without copying the request.
    package static func encodeRequest(_ request: borrowing CallRequest, id: UInt64, timeout: Duration,
                                      into buffer: inout [UInt8]) {
        let timeout = timeout.wireNanoseconds
        let flags = UInt64(request.flags.intersection(.known).rawValue)
        var size =
            1 + 2 + WireWriter.uintSize(id)
            + WireWriter.stringSize(request.service.utf8.count)
            + (request.actor.map { WireWriter.stringSize($0.utf8.count) } ?? 1)
            + WireWriter.stringSize(request.target.utf8.count)
            + WireWriter.stringSize(request.method.utf8.count)
            + WireWriter.uintSize(timeout) + WireWriter.uintSize(flags)
            + WireWriter.containerHeaderSize(request.metadata.count)
            + WireWriter.containerHeaderSize(request.arguments.count)
        for (key, value) in request.metadata {
            size += WireWriter.stringSize(key.utf8.count) + WireWriter.stringSize(value.utf8.count)
        }
        for argument in request.arguments {
            size += WireWriter.binSize(argument.count)
        }
        append(size, to: &buffer) { writer in
            writer.writeArrayHeader(11)
            writer.writeUInt(WireFormat.version)
            writer.writeUInt(WireFormat.Kind.request.rawValue)
            writer.writeUInt(id)
            writer.writeString(request.service)
            writer.writeOptionalString(request.actor)
            writer.writeString(request.target)
            writer.writeString(request.method)
            writer.writeUInt(timeout)
            writer.writeUInt(flags)
            writer.writeMapHeader(request.metadata.count)
            for (key, value) in request.metadata {
                writer.writeString(key)
                writer.writeString(value)
            }
            writer.writeArrayHeader(request.arguments.count)
            for argument in request.arguments {
                writer.writeBin(argument)
            }
        }
    }

    /// `[1, 9, seq, [[service, actorType, [[name, signature, target, flags], …]], …]]`.
    private static func encodeDescription(_ sequence: UInt64, _ services: [ServiceDescription],
                                          into buffer: inout [UInt8]) {
        var size = 1 + 2 + WireWriter.uintSize(sequence) + WireWriter.containerHeaderSize(services.count)
        for service in services {
            size += 1 + WireWriter.stringSize(service.name.utf8.count)
                + WireWriter.stringSize(service.actorType.utf8.count)
                + WireWriter.containerHeaderSize(service.methods.count)
            for method in service.methods {
                size += 1 + WireWriter.stringSize(method.name.utf8.count)
                    + WireWriter.stringSize(method.signature.utf8.count)
                    + WireWriter.stringSize(method.target.utf8.count) + 1
            }
        }
        append(size, to: &buffer) { writer in
            writer.writeArrayHeader(4)
            writer.writeUInt(WireFormat.version)
            writer.writeUInt(WireFormat.Kind.description.rawValue)
            writer.writeUInt(sequence)
            writer.writeArrayHeader(services.count)
            for service in services {
                writer.writeArrayHeader(3)
                writer.writeString(service.name)
                writer.writeString(service.actorType)
                writer.writeArrayHeader(service.methods.count)
                for method in service.methods {
                    writer.writeArrayHeader(4)
                    writer.writeString(method.name)
                    writer.writeString(method.signature)
                    writer.writeString(method.target)
                    writer.writeUInt(method.isIdempotent ? 1 : 0)
                }
            }
        }
    }

    private static func encodeHeaderOnly(_ kind: WireFormat.Kind, _ id: UInt64, into buffer: inout [UInt8]) {
        append(3 + WireWriter.uintSize(id), to: &buffer) { writer in
            writer.writeArrayHeader(3)
            writer.writeUInt(WireFormat.version)
            writer.writeUInt(kind.rawValue)
            writer.writeUInt(id)
        }
    }

    /// Grows `buffer` by exactly `size` bytes once and lets `body` fill them.
    @inline(__always)
    private static func append(_ size: Int, to buffer: inout [UInt8], _ body: (inout WireWriter) -> Void) {
        let start = buffer.count
        grow(&buffer, by: size)
        buffer.withUnsafeMutableBufferPointer { all in
            var writer = WireWriter(all.baseAddress! + start, count: size)
            body(&writer)
            writer.finish()
        }
    }

    /// Zeros to grow buffers from.
    private static let zeros = [UInt8](repeating: 0, count: 4096)

    /// Appends `count` zero bytes, copied from ``zeros`` a page at a time.
    /// (`append(contentsOf: repeatElement(0, count:))` walks the bytes one
    /// by one through `Repeated`'s indices: in a debug build, unspecialized,
    /// about a second a 4 MiB message, on a reactor or pool thread.)
    private static func grow(_ buffer: inout [UInt8], by count: Int) {
        buffer.reserveCapacity(buffer.count + count)
        var left = count
        while left > 0 {
            let chunk = min(left, zeros.count)
            buffer.append(contentsOf: zeros[..<chunk])
            left -= chunk
        }
    }
}
