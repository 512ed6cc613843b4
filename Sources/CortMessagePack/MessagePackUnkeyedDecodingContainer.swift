/// An array being read front to back; `offset` is where the next element starts.
struct MessagePackUnkeyedDecodingContainer: UnkeyedDecodingContainer {
    typealias ReadError = MessagePackReadError

    let session: MessagePackDecodingSession
    /// Depth of this array; its elements are decoded at this level.
    let level: Int
    /// This array's coding path, as a node of the session's path table.
    let node: Int
    let elementCount: Int
    private(set) var currentIndex = 0
    private var offset: Int

    init(session: MessagePackDecodingSession, level: Int, first: Int, count: Int, node: Int) {
        self.session = session
        self.level = level
        self.offset = first
        self.elementCount = count
        self.node = node
    }

    var codingPath: [any CodingKey] { session.codingPath(at: node) }

    var count: Int? { elementCount }
    var isAtEnd: Bool { currentIndex >= elementCount }

    private var indexPath: [any CodingKey] { codingPath + [MessagePackCodingKey(index: currentIndex)] }

    private func checkNotAtEnd(_ type: Any.Type) throws {
        if isAtEnd {
            throw DecodingError.valueNotFound(type, DecodingError.Context(
                codingPath: indexPath, debugDescription: "Unkeyed container is at end"))
        }
    }

    @inline(__always)
    private mutating func read<V>(_ type: V.Type, _ body: (Int) throws(ReadError) -> (V, end: Int)) throws -> V {
        try checkNotAtEnd(type)
        do throws(ReadError) {
            let (value, end) = try body(offset)
            offset = end
            currentIndex += 1
            return value
        } catch {
            throw error.decodingError(path: indexPath)
        }
    }

    mutating func decodeNil() throws -> Bool {
        try checkNotAtEnd(Any?.self)
        guard (try? session.byte(at: offset)) == MessagePackFormat.nil else { return false }
        offset += 1
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool {
        try read(type) { [session] offset throws(ReadError) in try session.readBool(at: offset) }
    }
    mutating func decode(_ type: String.Type) throws -> String {
        try read(type) { [session] offset throws(ReadError) in try session.readString(at: offset) }
    }
    mutating func decode(_ type: Double.Type) throws -> Double {
        try read(type) { [session] offset throws(ReadError) in try session.readDouble(at: offset) }
    }
    mutating func decode(_ type: Float.Type) throws -> Float {
        try read(type) { [session] offset throws(ReadError) in try session.readFloat(at: offset) }
    }
    mutating func decode(_ type: Int.Type) throws -> Int {
        try read(type) { [session] offset throws(ReadError) in try session.readInteger(type, at: offset) }
    }
    mutating func decode(_ type: Int8.Type) throws -> Int8 {
        try read(type) { [session] offset throws(ReadError) in try session.readInteger(type, at: offset) }
    }
    mutating func decode(_ type: Int16.Type) throws -> Int16 {
        try read(type) { [session] offset throws(ReadError) in try session.readInteger(type, at: offset) }
    }
    mutating func decode(_ type: Int32.Type) throws -> Int32 {
        try read(type) { [session] offset throws(ReadError) in try session.readInteger(type, at: offset) }
    }
    mutating func decode(_ type: Int64.Type) throws -> Int64 {
        try read(type) { [session] offset throws(ReadError) in try session.readInteger(type, at: offset) }
    }
    mutating func decode(_ type: UInt.Type) throws -> UInt {
        try read(type) { [session] offset throws(ReadError) in try session.readInteger(type, at: offset) }
    }
    mutating func decode(_ type: UInt8.Type) throws -> UInt8 {
        try read(type) { [session] offset throws(ReadError) in try session.readInteger(type, at: offset) }
    }
    mutating func decode(_ type: UInt16.Type) throws -> UInt16 {
        try read(type) { [session] offset throws(ReadError) in try session.readInteger(type, at: offset) }
    }
    mutating func decode(_ type: UInt32.Type) throws -> UInt32 {
        try read(type) { [session] offset throws(ReadError) in try session.readInteger(type, at: offset) }
    }
    mutating func decode(_ type: UInt64.Type) throws -> UInt64 {
        try read(type) { [session] offset throws(ReadError) in try session.readInteger(type, at: offset) }
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try checkNotAtEnd(type)
        let index = currentIndex
        let value = try session.decodeValue(type, at: offset, level: level, parent: node, key: {
            MessagePackCodingKey(index: index)
        })
        if session.lastValue.start == offset {
            // decodeValue read the element itself and knows where it ends.
            offset = session.lastValue.end
            currentIndex += 1
        } else {
            try advance()
        }
        return value
    }

    /// Steps past the current element after it was decoded by someone else.
    private mutating func advance() throws {
        do throws(ReadError) { offset = try session.skip(at: offset, level: level) } catch {
            throw error.decodingError(path: indexPath)
        }
        currentIndex += 1
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try checkNotAtEnd(type)
        let header: (count: Int, first: Int)?
        do throws(ReadError) { header = try session.mapHeader(at: offset, level: level + 1) } catch {
            throw error.decodingError(path: indexPath)
        }
        guard let header else { throw mismatch([String: Any].self) }
        let container = MessagePackKeyedDecodingContainer<NestedKey>(
            session: session, level: level + 1, first: header.first, count: header.count,
            node: session.pushNode(parent: node, key: MessagePackCodingKey(index: currentIndex)))
        try advance()
        return KeyedDecodingContainer(container)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try checkNotAtEnd([Any].self)
        let header: (count: Int, first: Int)?
        do throws(ReadError) { header = try session.arrayHeader(at: offset, level: level + 1) } catch {
            throw error.decodingError(path: indexPath)
        }
        guard let header else { throw mismatch([Any].self) }
        let container = MessagePackUnkeyedDecodingContainer(
            session: session, level: level + 1, first: header.first, count: header.count,
            node: session.pushNode(parent: node, key: MessagePackCodingKey(index: currentIndex)))
        try advance()
        return container
    }

    mutating func superDecoder() throws -> any Decoder {
        try checkNotAtEnd(Any.self)
        let decoder = session.makeSuperDecoder(at: offset, level: level, codingPath: indexPath)
        try advance()
        return decoder
    }

    private func mismatch(_ type: Any.Type) -> DecodingError {
        let lead = (try? session.byte(at: offset)) ?? MessagePackFormat.nil
        return ReadError.mismatch(type, found: lead, at: offset).decodingError(path: indexPath)
    }
}
