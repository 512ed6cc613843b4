extension CallFailure {
    /// The failure as a CURVE node tells it: the code and a short fixed
    /// message, without the node's type names or the runtime's text. A
    /// registered error the method threw is the service's own answer (its
    /// type is part of the service's contract) and travels as it is.
    var redacted: CallFailure {
        guard errorType == nil else { return self }
        return CallFailure(code: code, message: Self.shortMessage(for: code))
    }

    static func shortMessage(for code: RemoteCallError.Code) -> String {
        switch code {
        case .deadlineExceeded: "the deadline passed on the node"
        case .cancelled: "the call was cancelled"
        case .overloaded: "the node is overloaded; the call did not run"
        case .unknownTarget: "the node has no such service, actor or method"
        case .badArguments: "the arguments do not fit the method"
        case .protocolError: "the request breaks the protocol"
        case .remoteApplicationError: "the method threw an error"
        case .messageTooLarge: "the message is over the size limit"
        case .shuttingDown: "the node is shutting down; the call did not run"
        case .outcomeUnknown: "the node stopped the call while it ran"
        case .permissionDenied: "this caller may not make this call; it did not run"
        default: "the call failed"
        }
    }
}
