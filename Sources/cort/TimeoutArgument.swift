import ArgumentParser
import Cort

/// A positive duration on the command line, written as Go and Consul write
/// them: `5s`, `500ms`, `1m30s`.
struct TimeoutArgument: ExpressibleByArgument, CustomStringConvertible {
    let duration: Duration
    let text: String

    init(_ text: String, _ duration: Duration) {
        self.text = text
        self.duration = duration
    }

    init?(argument: String) {
        guard let duration = GoDuration.parse(argument), duration > .zero else { return nil }
        self.init(argument, duration)
    }

    var description: String { text }

    var defaultValueDescription: String { text }
}
