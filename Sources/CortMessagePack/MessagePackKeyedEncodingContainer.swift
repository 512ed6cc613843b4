/// A map being written: each entry is a string key (the key's `stringValue`)
/// followed by its value.
struct MessagePackKeyedEncodingContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let stream: MessagePackEncodingStream
    let frameIndex: Int
    let headerOffset: Int
    let codingPath: [any CodingKey]

    @inline(__always)
    private func begin(_ key: Key) {
        stream.beginEntry(frame: frameIndex, headerOffset: headerOffset)
        stream.writeKey(key.stringValue)
    }

    mutating func encodeNil(forKey key: Key) throws { begin(key); stream.writeNil() }
    mutating func encode(_ value: Bool, forKey key: Key) throws { begin(key); stream.writeBool(value) }
    mutating func encode(_ value: String, forKey key: Key) throws {
        begin(key)
        try stream.writeString(value, path: { codingPath + [key] })
    }
    mutating func encode(_ value: Double, forKey key: Key) throws { begin(key); stream.writeDouble(value) }
    mutating func encode(_ value: Float, forKey key: Key) throws { begin(key); stream.writeFloat(value) }
    mutating func encode(_ value: Int, forKey key: Key) throws { begin(key); stream.writeInt(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { begin(key); stream.writeInt(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { begin(key); stream.writeInt(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { begin(key); stream.writeInt(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { begin(key); stream.writeInt(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { begin(key); stream.writeUInt(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { begin(key); stream.writeUInt(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { begin(key); stream.writeUInt(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { begin(key); stream.writeUInt(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { begin(key); stream.writeUInt(value) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        begin(key)
        // The closure captures locals, not `self`: capturing the container
        // would copy it, retaining and releasing the stream on every call.
        let (stream, codingPath) = (stream, codingPath)
        try stream.encodeValue(value, path: { codingPath + [key] })
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        begin(key)
        let (index, offset) = stream.pushFrame(isMap: true)
        return KeyedEncodingContainer(MessagePackKeyedEncodingContainer<NestedKey>(
            stream: stream, frameIndex: index, headerOffset: offset, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        begin(key)
        let (index, offset) = stream.pushFrame(isMap: false)
        return MessagePackUnkeyedEncodingContainer(
            stream: stream, frameIndex: index, headerOffset: offset, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        stream.beginEntry(frame: frameIndex, headerOffset: headerOffset)
        stream.writeKey(MessagePackCodingKey.super.stringValue)
        return MessagePackSuperEncoder(stream: stream, parentFrame: frameIndex,
                                       codingPath: codingPath + [MessagePackCodingKey.super])
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        begin(key)
        return MessagePackSuperEncoder(stream: stream, parentFrame: frameIndex, codingPath: codingPath + [key])
    }
}
