/// The MessagePack format bytes, shared by the encoder (which mostly lets
/// msgpack-c's packer emit them) and the decoder's cursor (which reads them).
///
/// See https://github.com/msgpack/msgpack/blob/master/spec.md.
enum MessagePackFormat {
    static let positiveFixIntMax: UInt8 = 0x7f
    static let fixMap: UInt8 = 0x80
    static let fixMapMax: UInt8 = 0x8f
    static let fixArray: UInt8 = 0x90
    static let fixArrayMax: UInt8 = 0x9f
    static let fixStr: UInt8 = 0xa0
    static let fixStrMax: UInt8 = 0xbf
    static let `nil`: UInt8 = 0xc0
    /// Never used by the spec: always a decoding error.
    static let neverUsed: UInt8 = 0xc1
    static let `false`: UInt8 = 0xc2
    static let `true`: UInt8 = 0xc3
    static let bin8: UInt8 = 0xc4
    static let bin16: UInt8 = 0xc5
    static let bin32: UInt8 = 0xc6
    static let ext8: UInt8 = 0xc7
    static let ext16: UInt8 = 0xc8
    static let ext32: UInt8 = 0xc9
    static let float32: UInt8 = 0xca
    static let float64: UInt8 = 0xcb
    static let uint8: UInt8 = 0xcc
    static let uint16: UInt8 = 0xcd
    static let uint32: UInt8 = 0xce
    static let uint64: UInt8 = 0xcf
    static let int8: UInt8 = 0xd0
    static let int16: UInt8 = 0xd1
    static let int32: UInt8 = 0xd2
    static let int64: UInt8 = 0xd3
    static let fixExt1: UInt8 = 0xd4
    static let fixExt2: UInt8 = 0xd5
    static let fixExt4: UInt8 = 0xd6
    static let fixExt8: UInt8 = 0xd7
    static let fixExt16: UInt8 = 0xd8
    static let str8: UInt8 = 0xd9
    static let str16: UInt8 = 0xda
    static let str32: UInt8 = 0xdb
    static let array16: UInt8 = 0xdc
    static let array32: UInt8 = 0xdd
    static let map16: UInt8 = 0xde
    static let map32: UInt8 = 0xdf
    static let negativeFixIntMin: UInt8 = 0xe0

    /// The extension type of the timestamp extension.
    static let timestampExtensionType: Int8 = -1
    /// Largest element count, byte length or string length the format can carry.
    static let maxLength = Int(UInt32.max)

    /// A human name for the family of the value that starts with `byte`, for error messages.
    static func describe(_ byte: UInt8) -> String {
        switch byte {
        case 0x00...0x7f, 0xe0...0xff, 0xcc...0xd3: return "integer"
        case 0x80...0x8f, map16, map32: return "map"
        case 0x90...0x9f, array16, array32: return "array"
        case 0xa0...0xbf, str8, str16, str32: return "string"
        case `nil`: return "nil"
        case `false`, `true`: return "boolean"
        case bin8, bin16, bin32: return "binary"
        case float32: return "float32"
        case float64: return "float64"
        case ext8, ext16, ext32, fixExt1, fixExt2, fixExt4, fixExt8, fixExt16: return "extension"
        default: return "reserved byte 0xc1"
        }
    }
}
