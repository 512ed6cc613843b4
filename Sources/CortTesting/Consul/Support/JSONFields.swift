#if ConsulAgentDouble
import Foundation

/// A decoding error in Go's words (the text after `Request decode failed: `).
struct JSONFieldError: Error, Equatable {
    let message: String
}

/// Parses a request body the way Go's `json.Decoder.Decode` reports it.
enum JSONBody {
    static func parse(_ body: [UInt8]) -> Result<JSONValue, JSONFieldError> {
        if body.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            return .failure(JSONFieldError(message: "EOF"))
        }
        do {
            return .success(try JSONDecoder().decode(JSONValue.self, from: Data(body)))
        } catch {
            return .failure(JSONFieldError(message: "invalid character in JSON input"))
        }
    }
}

/// The fields of one JSON object, looked up as Go's `encoding/json` with
/// `DisallowUnknownFields` does: any letter case matches, an unknown name is
/// an error, `null` leaves a field at its zero value, and a value of the
/// wrong type is an error naming the Go field.
struct JSONFields {
    private let values: [String: JSONValue]
    private let type: String

    /// - Parameters:
    ///   - known: lowercased JSON name (or agent alias) → canonical field name.
    init(_ json: JSONValue, type: String, known: [String: String]) throws(JSONFieldError) {
        self.type = type
        guard case .object(let object) = json else {
            throw JSONFieldError(message: "json: cannot unmarshal \(json.goKind) into Go value of type \(type)")
        }
        var values: [String: JSONValue] = [:]
        for key in object.keys.sorted() {
            guard let canonical = known[key.lowercased()] else {
                throw JSONFieldError(message: "json: unknown field \"\(key)\"")
            }
            values[canonical] = object[key]
        }
        self.values = values
    }

    var canonicalNames: Dictionary<String, JSONValue>.Keys { values.keys }

    /// Whether the field is present with a value other than null, "", 0,
    /// false, [] or {}.
    func hasNonZero(_ field: String) -> Bool {
        switch values[field] {
        case nil, .null?: false
        case .bool(let value)?: value
        case .number(let value)?: value != 0
        case .string(let value)?: !value.isEmpty
        case .array(let value)?: !value.isEmpty
        case .object(let value)?: !value.isEmpty
        }
    }

    private func mismatch(_ field: String, _ value: JSONValue, _ goType: String) -> JSONFieldError {
        let shortType = type.split(separator: ".").last.map(String.init) ?? type
        let kind = if case .number(let number) = value { "number \(Self.goNumber(number))" } else { value.goKind }
        return JSONFieldError(message: "json: cannot unmarshal \(kind) into Go struct field \(shortType).\(field) of type \(goType)")
    }

    private static func goNumber(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }

    func string(_ field: String) throws(JSONFieldError) -> String? {
        switch values[field] {
        case nil, .null?: return nil
        case .string(let value)?: return value
        case let other?: throw mismatch(field, other, "string")
        }
    }

    func bool(_ field: String) throws(JSONFieldError) -> Bool? {
        switch values[field] {
        case nil, .null?: return nil
        case .bool(let value)?: return value
        case let other?: throw mismatch(field, other, "bool")
        }
    }

    func int(_ field: String) throws(JSONFieldError) -> Int? {
        switch values[field] {
        case nil, .null?: return nil
        case .number(let value)? where value == value.rounded() && abs(value) <= Double(Int32.max): return Int(value)
        case let other?: throw mismatch(field, other, "int")
        }
    }

    func strings(_ field: String) throws(JSONFieldError) -> [String]? {
        switch values[field] {
        case nil, .null?: return nil
        case .array(let items)?:
            var result: [String] = []
            for item in items {
                switch item {
                case .string(let value): result.append(value)
                case .null: result.append("")
                default: throw mismatch(field, item, "string")
                }
            }
            return result
        case let other?: throw mismatch(field, other, "[]string")
        }
    }

    func stringMap(_ field: String) throws(JSONFieldError) -> [String: String]? {
        switch values[field] {
        case nil, .null?: return nil
        case .object(let items)?:
            var result: [String: String] = [:]
            for (key, item) in items {
                switch item {
                case .string(let value): result[key] = value
                case .null: result[key] = ""
                default: throw mismatch(field, item, "string")
                }
            }
            return result
        case let other?: throw mismatch(field, other, "map[string]string")
        }
    }

    /// A Go `time.Duration` as the agent accepts it: a duration string or a
    /// number of nanoseconds.
    func duration(_ field: String) throws(JSONFieldError) -> Duration? {
        switch values[field] {
        case nil, .null?: return nil
        case .number(let value)?: return .nanoseconds(Int64(value))
        case .string(let text)?:
            if text.isEmpty { return .zero }
            guard let duration = GoDuration.parse(text) else {
                throw JSONFieldError(message: "time: invalid duration \"\(text)\"")
            }
            return duration
        case let other?: throw mismatch(field, other, "time.Duration")
        }
    }

    func object(_ field: String, type: String, known: [String: String]) throws(JSONFieldError) -> JSONFields? {
        switch values[field] {
        case nil, .null?: return nil
        case let value?:
            if case .object = value { return try JSONFields(value, type: type, known: known) }
            throw mismatch(field, value, "\(type)")
        }
    }

    func objects(_ field: String, type: String, known: [String: String]) throws(JSONFieldError) -> [JSONFields]? {
        switch values[field] {
        case nil, .null?: return nil
        case .array(let items)?:
            var result: [JSONFields] = []
            for item in items {
                guard case .object = item else { throw mismatch(field, item, "\(type)") }
                result.append(try JSONFields(item, type: type, known: known))
            }
            return result
        case let other?: throw mismatch(field, other, "[]*\(type)")
        }
    }
}

#endif
