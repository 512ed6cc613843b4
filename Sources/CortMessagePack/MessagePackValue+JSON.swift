#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The JSON bridge of the command-line tools: JSON arguments in, JSON results
/// out. Both directions go through Foundation's `JSONDecoder` and
/// `JSONEncoder`, so the JSON grammar is Foundation's.
extension MessagePackValue {
    /// Reads one JSON document.
    ///
    /// - `null`, `true`/`false` and strings map to ``nil``, ``bool(_:)`` and ``string(_:)``;
    /// - a number that is a whole value in `Int64` (`2`, `-7`, also `2.0`
    ///   and `1e3`, which JSON does not tell apart from `2` and `1000`) is
    ///   ``int(_:)``, one above `Int64.max` up to `UInt64.max` ``uint(_:)``,
    ///   any other ``double(_:)`` (`2.5`, `1e300`); ``MessagePackDecoder``
    ///   reads an integer into `Double` and `Float`, so `2` fits a `Double`
    ///   parameter;
    /// - an array is ``array(_:)``; an object is a ``map(_:)`` with string
    ///   keys, sorted (JSONDecoder does not keep the document's order), so the
    ///   same JSON always gives the same bytes.
    ///
    /// - Throws: ``MessagePackError`` with code `invalidValue` whose message
    ///   says what is wrong: the text is empty or not JSON (Foundation's
    ///   decoder does not say where, and refuses nesting deeper than 512), or
    ///   a number no `Double` holds (naming where, as `$.items[2]`). Foundation's
    ///   decoder accepts a trailing comma, and of two equal keys keeps one.
    public init(json: String) throws(MessagePackError) {
        // JSONDecoder says only "not valid JSON"; name the commonest mistake.
        guard json.contains(where: { !$0.isWhitespace }) else {
            throw MessagePackError(code: .invalidValue, message: "Invalid JSON: the text is empty")
        }
        do {
            self = try JSONDecoder().decode(JSONReading.self, from: Data(json.utf8)).value
        } catch let error as MessagePackError {
            throw error
        } catch let error as DecodingError {
            throw MessagePackError(code: .invalidValue, message: Self.describe(error), underlying: error)
        } catch {
            throw MessagePackError(code: .invalidValue, message: "Invalid JSON: \(error)", underlying: error)
        }
    }

    /// This value as JSON text, object keys sorted.
    ///
    /// - ``binary(_:)`` is a base64 string;
    /// - ``extension(type:data:)`` is `{"data": "<base64>", "type": <type>}`;
    /// - map keys must be strings or integers; an integer key is written as
    ///   its decimal text (as `JSONEncoder` writes a `[Int: V]`).
    ///
    /// - Parameter pretty: Indented, one member per line, instead of compact.
    /// - Throws: ``MessagePackError`` with code `invalidValue` naming where
    ///   (`$.scores[1]`) the value has no JSON form: a NaN or infinite
    ///   float, a map key of another type, or two keys with the same text.
    public func json(pretty: Bool = false) throws(MessagePackError) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty
            ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            : [.sortedKeys, .withoutEscapingSlashes]
        do {
            return String(decoding: try encoder.encode(JSONWriting(value: self)), as: UTF8.self)
        } catch let error as MessagePackError {
            throw error
        } catch {
            throw MessagePackError(code: .invalidValue, message: "Cannot write JSON: \(error)", underlying: error)
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context):
            let cause = context.underlyingError.map { " (\($0))" } ?? ""
            if context.codingPath.isEmpty { return "Invalid JSON: \(context.debugDescription)\(cause)" }
            return "Invalid JSON at \(jsonPath(context.codingPath)): \(context.debugDescription)\(cause)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context):
            return "Invalid JSON at \(jsonPath(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "Invalid JSON: \(error)"
        }
    }

    /// A coding path as a JSONPath-like string: `$`, `$.name`, `$.items[2]`.
    fileprivate static func jsonPath(_ path: [any CodingKey]) -> String {
        path.reduce(into: "$") { text, key in
            if let index = key.intValue, key.stringValue == "Index \(index)" || key.stringValue == "\(index)" {
                text += "[\(index)]"
            } else {
                text += ".\(key.stringValue)"
            }
        }
    }
}

private struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}

/// Decodes any JSON value by asking the decoder what it holds: an object,
/// an array, then each scalar. Once a container is open, errors inside it
/// propagate, so a problem deep inside is reported where it is.
private struct JSONReading: Decodable {
    var value: MessagePackValue

    init(from decoder: any Decoder) throws {
        if let object = try? decoder.container(keyedBy: JSONKey.self) {
            var pairs: [MessagePackValue.Pair] = []
            pairs.reserveCapacity(object.allKeys.count)
            for key in object.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                let member = try object.decode(JSONReading.self, forKey: key)
                pairs.append(MessagePackValue.Pair(key: .string(key.stringValue), value: member.value))
            }
            value = .map(pairs)
            return
        }
        if var array = try? decoder.unkeyedContainer() {
            var elements: [MessagePackValue] = []
            while !array.isAtEnd { elements.append(try array.decode(JSONReading.self).value) }
            value = .array(elements)
            return
        }
        let scalar = try decoder.singleValueContainer()
        if scalar.decodeNil() {
            value = .nil
        } else if let bool = try? scalar.decode(Bool.self) {
            value = .bool(bool)
        } else if let string = try? scalar.decode(String.self) {
            value = .string(string)
        } else if let int = try? scalar.decode(Int64.self) {
            value = .int(int)
        } else if let uint = try? scalar.decode(UInt64.self) {
            value = .uint(uint)
        } else {
            do {
                value = .double(try scalar.decode(Double.self))
            } catch {
                // Every other JSON value was tried above.
                throw MessagePackError(
                    code: .invalidValue,
                    message: "JSON number at \(MessagePackValue.jsonPath(decoder.codingPath)) is outside the range of a Double",
                    underlying: error)
            }
        }
    }
}

/// Encodes a value as JSON through the encoder's containers (see ``MessagePackValue/json(pretty:)``).
private struct JSONWriting: Encodable {
    var value: MessagePackValue

    func encode(to encoder: any Encoder) throws {
        switch value {
        case .nil:
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        case .bool(let bool):
            var container = encoder.singleValueContainer()
            try container.encode(bool)
        case .int(let int):
            var container = encoder.singleValueContainer()
            try container.encode(int)
        case .uint(let uint):
            var container = encoder.singleValueContainer()
            try container.encode(uint)
        case .double(let double):
            guard double.isFinite else { throw Self.noJSON("the number \(double)", encoder.codingPath) }
            var container = encoder.singleValueContainer()
            try container.encode(double)
        case .float(let float):
            guard float.isFinite else { throw Self.noJSON("the number \(float)", encoder.codingPath) }
            var container = encoder.singleValueContainer()
            try container.encode(float)
        case .string(let string):
            var container = encoder.singleValueContainer()
            try container.encode(string)
        case .binary(let bytes):
            var container = encoder.singleValueContainer()
            try container.encode(Data(bytes).base64EncodedString())
        case .array(let elements):
            var container = encoder.unkeyedContainer()
            for element in elements { try container.encode(JSONWriting(value: element)) }
        case .map(let pairs):
            var container = encoder.container(keyedBy: JSONKey.self)
            var seen = Set<String>()
            seen.reserveCapacity(pairs.count)
            for pair in pairs {
                let key: String
                switch pair.key {
                case .string(let string): key = string
                case .int(let int): key = String(int)
                case .uint(let uint): key = String(uint)
                default: throw Self.noJSON("a map key of type \(pair.key.kind)", encoder.codingPath)
                }
                guard seen.insert(key).inserted else {
                    throw Self.noJSON("the map key \"\(key)\", which appears twice", encoder.codingPath)
                }
                try container.encode(JSONWriting(value: pair.value), forKey: JSONKey(key))
            }
        case .extension(let type, let data):
            var container = encoder.container(keyedBy: JSONKey.self)
            try container.encode(type, forKey: JSONKey("type"))
            try container.encode(Data(data).base64EncodedString(), forKey: JSONKey("data"))
        }
    }

    private static func noJSON(_ what: String, _ path: [any CodingKey]) -> MessagePackError {
        MessagePackError(code: .invalidValue,
                         message: "JSON cannot hold \(what) at \(MessagePackValue.jsonPath(path))")
    }
}

extension MessagePackValue {
    /// The kind of value, for error messages.
    fileprivate var kind: String {
        switch self {
        case .nil: "nil"
        case .bool: "boolean"
        case .int, .uint: "integer"
        case .double: "float64"
        case .float: "float32"
        case .string: "string"
        case .binary: "binary"
        case .array: "array"
        case .map: "map"
        case .extension: "extension"
        }
    }
}
