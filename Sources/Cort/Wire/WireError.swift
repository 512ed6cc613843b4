/// Why an envelope frame could not be read.
///
/// `id` is the call id when the header (`[version, kind, id]`) was readable, so
/// a node can answer the caller with an error envelope for that call; without
/// it the answer goes out with id 0 (see docs/PROTOCOL.md).
///
/// ```swift
/// do {
///     envelope = try WireCodec.decode(frame, limits: limits)
/// } catch {
///     answer(.failure(id: error.id ?? 0, CallFailure(code: error.code, message: error.message)))
/// }
/// ```
package struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The call id from the frame's header, when it was readable.
    package var id: UInt64?
    /// `protocolError` or `messageTooLarge`.
    package var code: RemoteCallError.Code
    /// What is wrong with the frame, for people; never contains its payload.
    package var message: String

    package init(id: UInt64?, code: RemoteCallError.Code, message: String) {
        self.id = id
        self.code = code
        self.message = message
    }

    /// The error as a caller sees it.
    package var remoteCallError: RemoteCallError {
        RemoteCallError(code, message, cause: self)
    }

    package var description: String {
        "WireError(\(code), id: \(id.map(String.init) ?? "none")): \(message)"
    }
}
