/// What the byte-level reader throws (typed, so the hot path never boxes an
/// error); the containers turn it into a `DecodingError` with the coding path,
/// which only they know.
struct MessagePackReadError: Error, @unchecked Sendable {
    // @unchecked: `expected` is a metatype, which is immutable global data;
    // every other stored property is Sendable.
    enum Kind {
        case corrupted, typeMismatch, valueNotFound
    }

    let kind: Kind
    let code: MessagePackError.Code
    let expected: Any.Type
    let offset: Int
    let message: String

    static func truncated(at offset: Int) -> Self {
        Self(kind: .corrupted, code: .truncated, expected: Any.self, offset: offset,
             message: "Input ends inside a value")
    }

    static func lengthExceedsInput(_ length: Int, at offset: Int) -> Self {
        Self(kind: .corrupted, code: .lengthExceedsInput, expected: Any.self, offset: offset,
             message: "Length \(length) is larger than the remaining input")
    }

    static func tooDeep(_ maxDepth: Int, at offset: Int) -> Self {
        Self(kind: .corrupted, code: .tooDeep, expected: Any.self, offset: offset,
             message: "Containers nest deeper than maxDepth \(maxDepth)")
    }

    static func reservedByte(at offset: Int) -> Self {
        Self(kind: .corrupted, code: .reservedByte, expected: Any.self, offset: offset,
             message: "Byte 0xc1 is never used in MessagePack")
    }

    static func mismatch(_ expected: Any.Type, found byte: UInt8, at offset: Int) -> Self {
        if byte == MessagePackFormat.neverUsed { return reservedByte(at: offset) }
        if byte == MessagePackFormat.nil {
            return Self(kind: .valueNotFound, code: .typeMismatch, expected: expected, offset: offset,
                        message: "Expected \(expected) but found nil")
        }
        return Self(kind: .typeMismatch, code: .typeMismatch, expected: expected, offset: offset,
                    message: "Expected \(expected) but found a MessagePack \(MessagePackFormat.describe(byte))")
    }

    static func overflow(_ expected: Any.Type, value: String, at offset: Int) -> Self {
        Self(kind: .corrupted, code: .integerOverflow, expected: expected, offset: offset,
             message: "Number \(value) does not fit in \(expected)")
    }

    static func invalidUTF8(at offset: Int) -> Self {
        Self(kind: .corrupted, code: .invalidUTF8, expected: String.self, offset: offset,
             message: "String is not valid UTF-8")
    }

    static func invalidTimestamp(_ why: String, at offset: Int) -> Self {
        Self(kind: .corrupted, code: .invalidTimestamp, expected: Any.self, offset: offset,
             message: "Invalid timestamp: \(why)")
    }

    static func trailingBytes(at offset: Int, total: Int) -> Self {
        Self(kind: .corrupted, code: .trailingBytes, expected: Any.self, offset: offset,
             message: "\(total - offset) bytes follow the top-level value")
    }

    func decodingError(path: [any CodingKey]) -> DecodingError {
        let cause = MessagePackError(code: code, message: message, offset: offset)
        let context = DecodingError.Context(
            codingPath: path, debugDescription: "\(message) (at byte \(offset))", underlyingError: cause)
        switch kind {
        case .corrupted: return .dataCorrupted(context)
        case .typeMismatch: return .typeMismatch(expected, context)
        case .valueNotFound: return .valueNotFound(expected, context)
        }
    }
}
