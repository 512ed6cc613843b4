/// An array being written, one element after the other.
struct MessagePackUnkeyedEncodingContainer: UnkeyedEncodingContainer {
    let stream: MessagePackEncodingStream
    let frameIndex: Int
    let headerOffset: Int
    let codingPath: [any CodingKey]
    private(set) var count = 0

    init(stream: MessagePackEncodingStream, frameIndex: Int, headerOffset: Int, codingPath: [any CodingKey]) {
        self.stream = stream
        self.frameIndex = frameIndex
        self.headerOffset = headerOffset
        self.codingPath = codingPath
        // A reused frame (see `openOrReuseFrame`) already holds elements.
        self.count = stream.frames[frameIndex].count
    }

    @inline(__always)
    private mutating func begin() {
        stream.beginEntry(frame: frameIndex, headerOffset: headerOffset)
        count += 1
    }

    private func path(_ index: Int) -> [any CodingKey] { codingPath + [MessagePackCodingKey(index: index)] }

    mutating func encodeNil() throws { begin(); stream.writeNil() }
    mutating func encode(_ value: Bool) throws { begin(); stream.writeBool(value) }
    mutating func encode(_ value: String) throws {
        let index = count
        begin()
        try stream.writeString(value, path: { path(index) })
    }
    mutating func encode(_ value: Double) throws { begin(); stream.writeDouble(value) }
    mutating func encode(_ value: Float) throws { begin(); stream.writeFloat(value) }
    mutating func encode(_ value: Int) throws { begin(); stream.writeInt(value) }
    mutating func encode(_ value: Int8) throws { begin(); stream.writeInt(value) }
    mutating func encode(_ value: Int16) throws { begin(); stream.writeInt(value) }
    mutating func encode(_ value: Int32) throws { begin(); stream.writeInt(value) }
    mutating func encode(_ value: Int64) throws { begin(); stream.writeInt(value) }
    mutating func encode(_ value: UInt) throws { begin(); stream.writeUInt(value) }
    mutating func encode(_ value: UInt8) throws { begin(); stream.writeUInt(value) }
    mutating func encode(_ value: UInt16) throws { begin(); stream.writeUInt(value) }
    mutating func encode(_ value: UInt32) throws { begin(); stream.writeUInt(value) }
    mutating func encode(_ value: UInt64) throws { begin(); stream.writeUInt(value) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        let index = count
        begin()
        try stream.encodeValue(value, path: { path(index) })
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let index = count
        begin()
        let (frame, offset) = stream.pushFrame(isMap: true)
        return KeyedEncodingContainer(MessagePackKeyedEncodingContainer<NestedKey>(
            stream: stream, frameIndex: frame, headerOffset: offset, codingPath: path(index)))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let index = count
        begin()
        let (frame, offset) = stream.pushFrame(isMap: false)
        return MessagePackUnkeyedEncodingContainer(
            stream: stream, frameIndex: frame, headerOffset: offset, codingPath: path(index))
    }

    mutating func superEncoder() -> any Encoder {
        let index = count
        begin()
        return MessagePackSuperEncoder(stream: stream, parentFrame: frameIndex, codingPath: path(index))
    }
}
