/// Why a call produced no value, as a node reports it (the envelope kind `error`).
///
/// ```swift
/// let failure = CallFailure(code: .unknownTarget, message: "no service 'greeter' on this node")
/// ```
package struct CallFailure: Sendable, Equatable {
    /// What kind of failure this is.
    package var code: RemoteCallError.Code
    /// What happened, for people; never a payload.
    package var message: String
    /// The thrown error's type name, when the method threw a Codable error registered with the system.
    package var errorType: String?
    /// That error, MessagePack-encoded.
    package var errorPayload: [UInt8]?

    package init(
        code: RemoteCallError.Code, message: String, errorType: String? = nil, errorPayload: [UInt8]? = nil
    ) {
        self.code = code
        self.message = message
        self.errorType = errorType
        self.errorPayload = errorPayload
    }
}
