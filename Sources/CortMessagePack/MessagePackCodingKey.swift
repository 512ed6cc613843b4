/// The coding keys the codec makes itself: array indices, dictionary keys in
/// error paths, and `"super"`.
struct MessagePackCodingKey: CodingKey, Sendable {
    let stringValue: String
    let intValue: Int?

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }

    init(intValue: Int) {
        self.stringValue = "\(intValue)"
        self.intValue = intValue
    }

    init(index: Int) {
        self.stringValue = "Index \(index)"
        self.intValue = index
    }

    static let `super` = MessagePackCodingKey(stringValue: "super")
}
