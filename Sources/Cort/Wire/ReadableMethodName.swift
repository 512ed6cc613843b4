#if canImport(Glibc)
internal import Glibc
#elseif canImport(Musl)
internal import Musl
#elseif canImport(Darwin)
internal import Darwin
#endif

/// The Swift runtime's demangler (exported by libswiftCore on every platform).
/// It returns a `malloc`ed, NUL-terminated string when `outputBuffer` is nil,
/// or nil when `mangledName` is not a Swift symbol.
@_silgen_name("swift_demangle")
private func _swiftDemangle(
    _ mangledName: UnsafePointer<CChar>?, _ mangledNameLength: Int,
    _ outputBuffer: UnsafeMutablePointer<CChar>?, _ outputBufferSize: UnsafeMutablePointer<Int>?,
    _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?

/// A readable name for a distributed target, for logs and metrics: for
/// `$s3das7GreeterC5hello4name5timesS2S_SitYaKFTE` it is
/// `Greeter.hello(name:times:)` (the type without its module, the method and
/// its argument labels, `_` for an unlabeled one).
///
/// Falls back to `identifier` itself when it does not demangle to a method.
package func readableMethodName(fromMangled identifier: String) -> String {
    guard let demangled = demangle(identifier), let name = methodName(fromDemangled: demangled) else {
        return identifier
    }
    return name
}

/// A readable method name without its type: `hello(name:)` of
/// `Greeter.hello(name:)` (the name itself when it has no type in front).
/// How ``IdempotentMethods``, ``ServiceAccess`` and `rpc.method` name a method.
package func methodNameWithoutType(_ name: String) -> String {
    let beforeArguments = name.firstIndex(of: "(") ?? name.endIndex
    guard let dot = name[..<beforeArguments].lastIndex(of: ".") else { return name }
    return String(name[name.index(after: dot)...])
}

/// Swift's own demangling of `identifier`, or nil when it is not a Swift symbol.
func demangle(_ identifier: String) -> String? {
    var identifier = identifier
    return identifier.withUTF8 { utf8 -> String? in
        guard let base = utf8.baseAddress, !utf8.isEmpty else { return nil }
        let result = base.withMemoryRebound(to: CChar.self, capacity: utf8.count) {
            _swiftDemangle($0, utf8.count, nil, nil, 0)
        }
        guard let result else { return nil }
        defer { free(result) }
        return String(validatingCString: result)
    }
}

/// Reads the demangler's text, like
/// `distributed thunk das.Greeter.hello(name: Swift.String, times: Swift.Int) async throws -> Swift.String`.
/// Returns nil for anything that is not shaped like a method.
func methodName(fromDemangled text: String) -> String? {
    var text = Substring(text)
    for prefix in ["distributed thunk ", "dispatch thunk of ", "merged "] where text.hasPrefix(prefix) {
        text = text.dropFirst(prefix.count)
    }
    // A method declared in an extension in another module: "(extension in Lib):Mod.Type.method(…)".
    if text.hasPrefix("(extension in "), let colon = text.firstIndex(of: ":") {
        text = text[text.index(after: colon)...]
    }

    // The qualified name runs to the parameter list's "(" outside any generic clause.
    var qualified = ""
    var depth = 0
    var index = text.startIndex
    var parameterStart: String.Index?
    while index < text.endIndex {
        let character = text[index]
        if character == "<" {
            depth += 1
        } else if character == ">" {
            depth -= 1
            if depth < 0 { return nil }
        } else if depth == 0 {
            if character == "(" {
                parameterStart = index
                break
            }
            if character == " " {
                // A distributed computed property: "das.Greeter.count.getter : Swift.Int".
                guard qualified.hasSuffix(".getter") else { return nil }
                let components = qualified.dropLast(".getter".count).split(separator: ".")
                guard components.count >= 3 else { return nil }
                return components.dropFirst().joined(separator: ".")
            }
            qualified.append(character)
        }
        index = text.index(after: index)
    }
    guard let parameterStart, depth == 0 else { return nil }

    // Drop the module: the first component of "das.Greeter.hello".
    let components = qualified.split(separator: ".", omittingEmptySubsequences: false)
    guard components.count >= 3, !components.contains(where: \.isEmpty) else { return nil }
    let typeAndMethod = components.dropFirst().joined(separator: ".")

    guard let parameters = topLevelParameters(text[parameterStart...]) else { return nil }
    let labels = parameters.map { parameter -> String in
        label(of: parameter).map { "\($0):" } ?? "_:"
    }
    return "\(typeAndMethod)(\(labels.joined()))"
}

/// The parameters between the "(" that `text` starts with and its matching
/// ")", split at the commas that are not inside a nested type.
private func topLevelParameters(_ text: Substring) -> [Substring]? {
    var parameters: [Substring] = []
    var depth = 0
    var start = text.index(after: text.startIndex)
    var previous: Character = "("
    var index = start
    while index < text.endIndex {
        let character = text[index]
        switch character {
        case "(", "[", "<":
            depth += 1
        case ">" where previous == "-":
            break  // the arrow of a function type
        case ")", "]", ">":
            if depth == 0 {
                guard character == ")" else { return nil }
                let last = text[start..<index]
                if !last.allSatisfy(\.isWhitespace) || !parameters.isEmpty { parameters.append(last) }
                return parameters
            }
            depth -= 1
        case "," where depth == 0:
            parameters.append(text[start..<index])
            start = text.index(after: index)
        default:
            break
        }
        previous = character
        index = text.index(after: index)
    }
    return nil
}

/// The argument label of one demangled parameter ("name: Swift.String"), or nil when it has none.
private func label(of parameter: Substring) -> Substring? {
    let parameter = parameter.drop(while: \.isWhitespace)
    guard let colon = parameter.firstIndex(of: ":") else { return nil }
    let candidate = parameter[..<colon]
    let after = parameter[parameter.index(after: colon)...]
    guard !candidate.isEmpty, after.first == " ",
        candidate.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "`" })
    else { return nil }
    return candidate
}
