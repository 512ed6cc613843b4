import Distributed
import SwiftShims

/// One distributed method of a hosted type, as a node describes it
/// (docs/PROTOCOL.md, `describe`).
package struct MethodDescription: Sendable, Hashable {
    /// The readable name a caller types: `Greeter.hello(name:)`.
    package let name: String
    /// The declaration, with the standard library's and the type's own
    /// module left out: `hello(name: String) async throws -> Greeting`.
    package let signature: String
    /// The distributed target's identifier (Swift's mangled name), what a
    /// request names.
    package let target: String
    /// Whether the type lists it in ``IdempotentMethods``.
    package let isIdempotent: Bool

    package init(name: String, signature: String, target: String, isIdempotent: Bool) {
        self.name = name
        self.signature = signature
        self.target = target
        self.isIdempotent = isIdempotent
    }
}

/// The distributed methods of an actor type, found where Swift's runtime
/// finds them when it runs a call.
///
/// The compiler emits an *accessible function record* for every distributed
/// thunk, in the `swift5_accessible_functions` section of its image; the
/// runtime looks a request's target up there. The records are read once per
/// process, through the runtime's own list of loaded images
/// (`swift_enumerateAllMetadataSections`, as swift-testing finds its tests),
/// so a type's list needs no declaration from its author. A record belongs
/// to a type when ``TargetCatalog`` reads it as that very type's thunk.
///
/// On platforms other than Linux the list is empty: a node describes its
/// services there without their methods.
///
/// ```swift
/// let methods = DistributedMethods.of(Greeter.self)
/// // [MethodDescription(name: "Greeter.hello(name:)", signature: "hello(name: String) -> Greeting", …)]
/// ```
package enum DistributedMethods {
    /// The methods of `actorType` (a distributed actor), sorted by name.
    package static func of<Act: DistributedActor>(_ actorType: Act.Type) -> [MethodDescription] {
        let typeName = String(reflecting: actorType)
        let idempotent = (actorType as? any IdempotentMethods.Type)?.idempotentMethods ?? []
        let module = typeName.split(separator: ".").first.map(String.init) ?? ""
        var methods: [MethodDescription] = []
        for identifier in accessibleFunctions {
            guard let target = TargetCatalog.read(identifier, on: typeName),
                  let demangled = demangle(identifier) else { continue }
            let bare = methodNameWithoutType(target.method)
            methods.append(MethodDescription(
                name: target.method, signature: signature(demangled, of: typeName, module: module),
                target: identifier, isIdempotent: idempotent.contains(bare)))
        }
        return methods.sorted { ($0.name, $0.target) < ($1.name, $1.target) }
    }

    /// Every accessible function's name in the process, read once.
    static let accessibleFunctions: [String] = readAccessibleFunctions()

    /// `distributed thunk Shop.Greeter.hello(name: Swift.String) async throws -> Shop.Greeting`
    /// read as `hello(name: String) async throws -> Greeting` (a distributed
    /// property's thunk reads as a method: `count() async throws -> Int`).
    static func signature(_ demangled: String, of typeName: String, module: String) -> String {
        var text = Substring(demangled)
        if text.hasPrefix("distributed thunk ") { text = text.dropFirst("distributed thunk ".count) }
        if text.hasPrefix("(extension in "), let colon = text.firstIndex(of: ":") {
            text = text[text.index(after: colon)...]
        }
        if text.hasPrefix(typeName + ".") { text = text.dropFirst(typeName.count + 1) }
        var declaration = String(text)
        // The type's own nested types, then its module's and the standard library's.
        for prefix in [typeName + ".", "Swift.", module + "."] where !prefix.hasPrefix(".") {
            declaration = removingQualifier(prefix, from: declaration)
        }
        return sugared(declaration)
    }

    /// `Optional<String>` → `String?`, `Array<Int>` → `[Int]`,
    /// `Dictionary<String, Point>` → `[String: Point]`, as Swift writes them.
    static func sugared(_ text: String) -> String {
        var text = text
        var searchFrom = text.startIndex
        while let (name, range) = firstGeneric(in: text, from: searchFrom) {
            let openAngle = text.index(range.lowerBound, offsetBy: name.count)
            guard let close = matchingAngle(in: text, after: openAngle) else {
                searchFrom = text.index(after: range.lowerBound)
                continue
            }
            let inner = String(text[text.index(after: openAngle)..<close])
            let replacement: String
            switch name {
            case "Optional":
                // A function type or a composition needs parentheses before its `?`.
                let compound = inner.contains("->") || inner.contains(" & ") || inner.hasPrefix("any ")
                    || inner.hasPrefix("some ")
                replacement = compound ? "(\(inner))?" : inner + "?"
            case "Array":
                replacement = "[\(inner)]"
            default:
                guard let comma = topLevelComma(in: inner) else {
                    searchFrom = text.index(after: range.lowerBound)
                    continue
                }
                let key = inner[..<comma]
                let value = inner[inner.index(after: comma)...].drop(while: { $0 == " " })
                replacement = "[\(key): \(value)]"
            }
            let start = text.distance(from: text.startIndex, to: range.lowerBound)
            text.replaceSubrange(range.lowerBound...close, with: replacement)
            // Again from the same place: the inner types may be sugared too.
            searchFrom = text.index(text.startIndex, offsetBy: start)
        }
        return text
    }

    /// The first `Optional<`, `Array<` or `Dictionary<` at or after `start` that begins a name.
    private static func firstGeneric(in text: String, from start: String.Index)
        -> (String, Range<String.Index>)? {
        var best: (String, Range<String.Index>)?
        for name in ["Optional", "Array", "Dictionary"] {
            var from = start
            while let range = text.range(of: name + "<", range: from..<text.endIndex) {
                let previous = range.lowerBound > text.startIndex ? text[text.index(before: range.lowerBound)] : " "
                if !(previous.isLetter || previous.isNumber || previous == "_" || previous == ".") {
                    if best == nil || range.lowerBound < best!.1.lowerBound { best = (name, range) }
                    break
                }
                from = range.upperBound
            }
        }
        return best
    }

    /// The `>` closing the `<` at `open`, skipping nested ones and `->` arrows.
    private static func matchingAngle(in text: String, after open: String.Index) -> String.Index? {
        var depth = 0
        var previous: Character = "<"
        var index = text.index(after: open)
        while index < text.endIndex {
            let character = text[index]
            if character == "<" {
                depth += 1
            } else if character == ">" && previous != "-" {
                if depth == 0 { return index }
                depth -= 1
            }
            previous = character
            index = text.index(after: index)
        }
        return nil
    }

    /// The first comma of `text` outside brackets.
    private static func topLevelComma(in text: String) -> String.Index? {
        var depth = 0
        var previous: Character = " "
        for index in text.indices {
            switch text[index] {
            case "<", "(", "[": depth += 1
            case ">" where previous != "-": depth -= 1
            case ")", "]": depth -= 1
            case "," where depth == 0: return index
            default: break
            }
            previous = text[index]
        }
        return nil
    }

    /// `text` without `qualifier` where it starts a qualified name (not in the middle of one).
    private static func removingQualifier(_ qualifier: String, from text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let range = rest.range(of: qualifier) {
            let before = rest[..<range.lowerBound]
            result += before
            if let previous = result.last, previous.isLetter || previous.isNumber || previous == "_" || previous == "." {
                result += rest[range]
            }
            rest = rest[range.upperBound...]
        }
        return result + rest
    }

    /// The size of one accessible function record: name, generic
    /// environment, function type, function (relative pointers) and flags.
    private static let recordSize = 20

    private static func readAccessibleFunctions() -> [String] {
        #if os(Linux) || os(Android) || os(FreeBSD)
        final class Names { var all: [String] = [] }
        let names = Names()
        withExtendedLifetime(names) {
            swiftEnumerateAllMetadataSections({ sections, context in
                let names = Unmanaged<Names>.fromOpaque(context!).takeUnretainedValue()
                let image = sections.assumingMemoryBound(to: MetadataSections.self).pointee
                // The accessible functions have been in the list since its version 2.
                guard image.version >= 2 else { return true }
                let range = image.swift5_accessible_functions
                guard range.length >= DistributedMethods.recordSize,
                      let start = UnsafeRawPointer(bitPattern: range.start) else { return true }
                var record = start
                let end = start + Int(range.length)
                while record + DistributedMethods.recordSize <= end {
                    let offset = record.loadUnaligned(as: Int32.self)
                    let name = String(cString: (record + Int(offset)).assumingMemoryBound(to: CChar.self))
                    // Distributed thunks' names end in "TE"; the section could hold other functions.
                    if name.hasSuffix("TE") { names.all.append(name) }
                    record += DistributedMethods.recordSize
                }
                return true
            }, Unmanaged.passUnretained(names).toOpaque())
        }
        return names.all
        #else
        return []
        #endif
    }
}

#if os(Linux) || os(Android) || os(FreeBSD)
/// The Swift runtime's list of loaded images and their metadata sections
/// (exported by libswiftCore on ELF platforms; swift-testing finds its tests with it).
@_silgen_name("swift_enumerateAllMetadataSections")
private func swiftEnumerateAllMetadataSections(
    _ body: @convention(c) (UnsafeRawPointer, UnsafeMutableRawPointer?) -> Bool,
    _ context: UnsafeMutableRawPointer?
)
#endif
