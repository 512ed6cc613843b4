import Cort

extension ConsulDiscovery {
    /// Consul's failure in a line a person can act on, naming what Consul
    /// answered: `Consul answered 403: Permission denied`, `Consul at
    /// http://127.0.0.1:8500 is unreachable: Couldn't connect to server`.
    /// Consul's own text is trimmed to one line of at most
    /// ``maximumAnswerLength`` characters.
    static func describe(_ error: ConsulError, agent: ConsulConfiguration.Endpoint) -> String {
        let reason = oneLine((error.cause as? CurlFailure)?.message ?? error.message)
        switch error.code {
        case .httpStatus:
            var text = "Consul answered \(error.status.map(String.init) ?? "an error")"
            if let answer = error.consulMessage.map(oneLine), !answer.isEmpty { text += ": \(answer)" }
            return text
        case .transport:
            return "Consul at \(agent) is unreachable: \(reason)"
        case .timeout:
            return "Consul at \(agent) did not answer in time: \(reason)"
        case .decoding, .bodyTooLarge:
            return "Consul at \(agent) gave an answer cort cannot use: \(reason)"
        default:
            return "Consul at \(agent): \(reason)"
        }
    }

    /// The `DiscoveryError` for a failed Consul request:
    /// `DiscoveryError/Code/unauthorized` for 401 and 403, else
    /// `DiscoveryError/Code/unavailable`; `doing` (e.g. "cannot deregister
    /// greeter@a") comes first in the message when given.
    static func discoveryError(_ error: ConsulError, agent: ConsulConfiguration.Endpoint,
                               doing: String? = nil) -> DiscoveryError {
        let answer = describe(error, agent: agent)
        return DiscoveryError(error.isAuthorizationFailure ? .unauthorized : .unavailable,
                              doing.map { "\($0): \(answer)" } ?? answer, cause: error)
    }

    /// The longest piece of Consul's (or curl's) own text a message quotes.
    static let maximumAnswerLength = 200

    private static func oneLine(_ text: String) -> String {
        let words = text.split(whereSeparator: { $0.isWhitespace || $0.isNewline })
        let line = words.joined(separator: " ")
        return line.count > maximumAnswerLength ? String(line.prefix(maximumAnswerLength)) + "…" : line
    }
}
