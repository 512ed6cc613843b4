import ArgumentParser

/// What `cort call` and `cort bench` take to name a call: the service, the
/// method, its JSON arguments, the deadline and the metadata.
struct CallArguments: ParsableArguments {
    @Argument(help: "The service to call.")
    var service: String

    @Argument(help: "The method: Type.method(label:), method(label:) or method.")
    var method: String

    @Argument(help: #"The arguments, a JSON array: '["Ada"]', '[]'."#)
    var arguments: String = "[]"

    @Option(help: ArgumentHelp("Each call's deadline (500ms, 2s, 1m); also the wait for discovery.",
                               valueName: "duration"))
    var timeout = TimeoutArgument("10s", .seconds(10))

    @Option(name: .customLong("metadata"), help: ArgumentHelp(
        "Call metadata, KEY=VALUE (repeatable); the method reads it from CallContext.", valueName: "key=value"))
    var metadata: [String] = []

    func validate() throws {
        for entry in metadata where !entry.contains("=") || entry.hasPrefix("=") {
            throw ValidationError("--metadata takes KEY=VALUE, got \"\(entry)\"")
        }
    }

    /// The metadata as a map: `["k=v", "a=b=c"]` → `["k": "v", "a": "b=c"]`; the last of a key given twice wins.
    var metadataMap: [String: String] {
        var result: [String: String] = [:]
        for entry in metadata {
            guard let equals = entry.firstIndex(of: "=") else { continue }
            result[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
        }
        return result
    }
}
