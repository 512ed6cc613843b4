/// Why MessagePack bytes could not be decoded (or a value encoded).
///
/// The codec throws Swift's own `DecodingError` and `EncodingError`, as every
/// `Codable` codec does; a `MessagePackError` rides along as the context's
/// `underlyingError`, so callers that care can switch over a stable ``code``
/// and learn the byte ``offset`` where the problem was found.
///
/// ```swift
/// do {
///     _ = try MessagePackDecoder().decode(Int.self, from: [0xc1])
/// } catch let error as DecodingError {
///     if case .dataCorrupted(let context) = error,
///        let cause = context.underlyingError as? MessagePackError {
///         print(cause.code, cause.offset ?? -1) // reservedByte 0
///     }
/// }
/// ```
public struct MessagePackError: Error, Sendable, CustomStringConvertible {
    /// A stable category of failure. New codes may be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: Hashable, Sendable {
            case truncated, trailingBytes, typeMismatch, integerOverflow, invalidUTF8
            case reservedByte, lengthExceedsInput, tooDeep, invalidTimestamp, invalidValue, outOfMemory
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The input ended inside a value.
        public static let truncated = Code(.truncated)
        /// Bytes remain after the top-level value.
        public static let trailingBytes = Code(.trailingBytes)
        /// The value has another MessagePack type than the Swift type asks for.
        public static let typeMismatch = Code(.typeMismatch)
        /// An integer does not fit the Swift integer or floating-point type asked for.
        public static let integerOverflow = Code(.integerOverflow)
        /// A `str` value is not valid UTF-8.
        public static let invalidUTF8 = Code(.invalidUTF8)
        /// The byte 0xc1, which the format never uses.
        public static let reservedByte = Code(.reservedByte)
        /// A length or element count is larger than the bytes that remain.
        public static let lengthExceedsInput = Code(.lengthExceedsInput)
        /// Containers nest deeper than `MessagePackDecoder.maxDepth`.
        public static let tooDeep = Code(.tooDeep)
        /// A timestamp extension (type -1) with a bad length or nanosecond field.
        public static let invalidTimestamp = Code(.invalidTimestamp)
        /// A value that MessagePack cannot represent (encoding).
        public static let invalidValue = Code(.invalidValue)
        /// The encoder's buffer could not grow.
        public static let outOfMemory = Code(.outOfMemory)

        public var description: String { "\(value)" }
    }

    /// What went wrong.
    public var code: Code
    /// A sentence for people.
    public var message: String
    /// Where in the input the problem was found, when decoding.
    public var offset: Int?
    /// A lower-level error that caused this one, if any.
    public var underlying: (any Error & Sendable)?

    /// Creates an error.
    public init(code: Code, message: String, offset: Int? = nil, underlying: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.offset = offset
        self.underlying = underlying
    }

    public var description: String {
        if let offset { return "MessagePackError(\(code)): \(message) at byte \(offset)" }
        return "MessagePackError(\(code)): \(message)"
    }
}
