/// The encoder handed out by `superEncoder()`: it encodes one value into the
/// slot that its parent container just opened (after the key, for a map).
///
/// If it is never used, the slot gets a nil so that the map stays well formed.
final class MessagePackSuperEncoder: Encoder {
    private let stream: MessagePackEncodingStream
    private let base: Int
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { stream.userInfo }

    init(stream: MessagePackEncodingStream, parentFrame: Int, codingPath: [any CodingKey]) {
        self.stream = stream
        self.base = parentFrame + 1
        self.codingPath = codingPath
        stream.markPendingValue(frame: parentFrame)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let (index, offset) = stream.openOrReuseFrame(base: base, isMap: true)
        return KeyedEncodingContainer(MessagePackKeyedEncodingContainer<Key>(
            stream: stream, frameIndex: index, headerOffset: offset, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let (index, offset) = stream.openOrReuseFrame(base: base, isMap: false)
        return MessagePackUnkeyedEncodingContainer(
            stream: stream, frameIndex: index, headerOffset: offset, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        stream.closeFrames(downTo: base)
        return stream
    }
}
