/// The MessagePack format bytes the envelope uses (see
/// https://github.com/msgpack/msgpack/blob/master/spec.md), and the envelope's
/// own constants.
enum WireFormat {
    static let version: UInt64 = 1

    /// The envelope kinds, by their number on the wire.
    enum Kind: UInt64 {
        case request = 1
        case reply = 2
        case error = 3
        case cancel = 4
        case ping = 5
        case pong = 6

        /// How many elements the kind's array has, header included.
        var fieldCount: Int {
            switch self {
            case .request: 11
            case .reply: 4
            case .error: 7
            case .cancel: 3
            case .ping: 3
            case .pong: 4
            }
        }
    }

    static let positiveFixIntMax: UInt8 = 0x7f
    static let fixMap: UInt8 = 0x80
    static let fixArray: UInt8 = 0x90
    static let fixStr: UInt8 = 0xa0
    static let `nil`: UInt8 = 0xc0
    static let bin8: UInt8 = 0xc4
    static let bin16: UInt8 = 0xc5
    static let bin32: UInt8 = 0xc6
    static let uint8: UInt8 = 0xcc
    static let uint16: UInt8 = 0xcd
    static let uint32: UInt8 = 0xce
    static let uint64: UInt8 = 0xcf
    static let int8: UInt8 = 0xd0
    static let int16: UInt8 = 0xd1
    static let int32: UInt8 = 0xd2
    static let int64: UInt8 = 0xd3
    static let str8: UInt8 = 0xd9
    static let str16: UInt8 = 0xda
    static let str32: UInt8 = 0xdb
    static let array16: UInt8 = 0xdc
    static let array32: UInt8 = 0xdd
    static let map16: UInt8 = 0xde
    static let map32: UInt8 = 0xdf

    /// A name for the family of the value that starts with `byte`, for error messages.
    static func describe(_ byte: UInt8) -> String {
        switch byte {
        case 0x00...0x7f, 0xe0...0xff, 0xcc...0xd3: "integer"
        case 0x80...0x8f, map16, map32: "map"
        case 0x90...0x9f, array16, array32: "array"
        case 0xa0...0xbf, str8, str16, str32: "str"
        case `nil`: "nil"
        case 0xc2, 0xc3: "boolean"
        case bin8, bin16, bin32: "bin"
        case 0xca, 0xcb: "float"
        case 0xc7...0xc9, 0xd4...0xd8: "ext"
        default: "the reserved byte 0xc1"
        }
    }
}

extension Duration {
    /// The duration as whole nanoseconds for the wire: negative is 0, too long is `UInt64.max`.
    var wireNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        let fraction = attoseconds / 1_000_000_000
        if seconds < 0 { return 0 }
        if seconds == 0 { return fraction > 0 ? UInt64(fraction) : 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        if fraction >= 0 {
            let (sum, carry) = whole.addingReportingOverflow(UInt64(fraction))
            return carry ? .max : sum
        }
        return whole - UInt64(-fraction)
    }

    /// A duration of `nanoseconds` read off the wire (any `UInt64` fits).
    init(wireNanoseconds nanoseconds: UInt64) {
        self.init(
            secondsComponent: Int64(nanoseconds / 1_000_000_000),
            attosecondsComponent: Int64(nanoseconds % 1_000_000_000) * 1_000_000_000)
    }
}
