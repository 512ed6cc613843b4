/// The MessagePack format bytes, shared by the encoder (which mostly lets
/// msgpack-c's packer emit them), the decoder's cursor (which reads them) and
/// cort's wire envelope (`Cort`'s WireWriter and WireReader).
///
/// See https://github.com/msgpack/msgpack/blob/master/spec.md.
package enum MessagePackFormat {
    package static let positiveFixIntMax: UInt8 = 0x7f
    package static let fixMap: UInt8 = 0x80
    package static let fixMapMax: UInt8 = 0x8f
    package static let fixArray: UInt8 = 0x90
    package static let fixArrayMax: UInt8 = 0x9f
    package static let fixStr: UInt8 = 0xa0
    package static let fixStrMax: UInt8 = 0xbf
    package static let `nil`: UInt8 = 0xc0
    /// Never used by the spec: always a decoding error.
    package static let neverUsed: UInt8 = 0xc1
    package static let `false`: UInt8 = 0xc2
    package static let `true`: UInt8 = 0xc3
    package static let bin8: UInt8 = 0xc4
    package static let bin16: UInt8 = 0xc5
    package static let bin32: UInt8 = 0xc6
    package static let ext8: UInt8 = 0xc7
    package static let ext16: UInt8 = 0xc8
    package static let ext32: UInt8 = 0xc9
    package static let float32: UInt8 = 0xca
    package static let float64: UInt8 = 0xcb
    package static let uint8: UInt8 = 0xcc
    package static let uint16: UInt8 = 0xcd
    package static let uint32: UInt8 = 0xce
    package static let uint64: UInt8 = 0xcf
    package static let int8: UInt8 = 0xd0
    package static let int16: UInt8 = 0xd1
    package static let int32: UInt8 = 0xd2
    package static let int64: UInt8 = 0xd3
    package static let fixExt1: UInt8 = 0xd4
    package static let fixExt2: UInt8 = 0xd5
    package static let fixExt4: UInt8 = 0xd6
    package static let fixExt8: UInt8 = 0xd7
    package static let fixExt16: UInt8 = 0xd8
    package static let str8: UInt8 = 0xd9
    package static let str16: UInt8 = 0xda
    package static let str32: UInt8 = 0xdb
    package static let array16: UInt8 = 0xdc
    package static let array32: UInt8 = 0xdd
    package static let map16: UInt8 = 0xde
    package static let map32: UInt8 = 0xdf
    package static let negativeFixIntMin: UInt8 = 0xe0

    /// The extension type of the timestamp extension.
    package static let timestampExtensionType: Int8 = -1
    /// Largest element count, byte length or string length the format can carry.
    package static let maxLength = Int(UInt32.max)

    /// A human name for the family of the value that starts with `byte`, for error messages.
    package static func describe(_ byte: UInt8) -> String {
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
