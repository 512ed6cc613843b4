#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Strings and bytes as a whole value, the usual arguments and results of a
/// call, without a coder: their header and body, as the coders write and read
/// them.
///
/// Setting a coder up and taking it down costs more than such a value itself:
/// through a coder, a node decoded a 64-byte `[UInt8]` argument in about
/// 1,000 instructions and encoded its result in about 800; here about 440
/// and 650, most of them the array's allocation and copy (callgrind, a typed
/// echo at 64 calls in flight). Anything else, and any input these do not take
/// exactly as the decoder would (an array of integers for bytes, trailing
/// bytes, invalid UTF-8, a value over the format's length limit), goes
/// through the coder, which encodes the same bytes and throws its usual
/// errors.
enum MessagePackTopLevel {
    /// `value`'s encoding if it is a string or bytes within the format's
    /// limit; nil otherwise. (A concrete result: an optional of the generic
    /// `T` would cost a metadata look-up on every call.)
    @inline(__always)
    static func encoded<T>(_ value: T) -> [UInt8]? {
        if T.self == [UInt8].self {
            return unsafeBitCast(value, to: [UInt8].self).withUnsafeBytes { bin($0) }
        }
        if T.self == String.self {
            var string = unsafeBitCast(value, to: String.self)
            return string.withUTF8 { str(UnsafeRawBufferPointer($0)) }
        }
        if T.self == Data.self {
            return unsafeBitCast(value, to: Data.self).withUnsafeBytes { bin($0) }
        }
        return nil
    }

    /// The string `bytes` hold, read as the decoder reads one; nil if they
    /// hold something else, or a string that is not valid UTF-8.
    static func string(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard let body = strBody(bytes), let base = body.baseAddress ?? bytes.baseAddress,
              MessagePackDecodingSession.isValidUTF8(base, body.count)
        else { return nil }
        return String(decoding: body, as: UTF8.self)
    }

    // MARK: Writing

    private static func bin(_ body: UnsafeRawBufferPointer) -> [UInt8]? {
        let count = body.count
        guard count <= MessagePackFormat.maxLength else { return nil }
        return if count < 0x100 {
            encoding(body, header: MessagePackFormat.bin8, lengthBytes: 1)
        } else if count < 0x1_0000 {
            encoding(body, header: MessagePackFormat.bin16, lengthBytes: 2)
        } else {
            encoding(body, header: MessagePackFormat.bin32, lengthBytes: 4)
        }
    }

    private static func str(_ body: UnsafeRawBufferPointer) -> [UInt8]? {
        let count = body.count
        guard count <= MessagePackFormat.maxLength else { return nil }
        return if count < 32 {
            encoding(body, header: MessagePackFormat.fixStr | UInt8(count), lengthBytes: 0)
        } else if count < 0x100 {
            encoding(body, header: MessagePackFormat.str8, lengthBytes: 1)
        } else if count < 0x1_0000 {
            encoding(body, header: MessagePackFormat.str16, lengthBytes: 2)
        } else {
            encoding(body, header: MessagePackFormat.str32, lengthBytes: 4)
        }
    }

    /// `header`, the body's length in `lengthBytes` big-endian bytes, the body.
    private static func encoding(_ body: UnsafeRawBufferPointer, header: UInt8, lengthBytes: Int) -> [UInt8] {
        // Reserved, then appended: the array initializers that take a count
        // are not specialized here and looked up the array's metadata on
        // every call (about 500 instructions, callgrind).
        var encoding: [UInt8] = []
        encoding.reserveCapacity(1 + lengthBytes + body.count)
        encoding.append(header)
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: body.count).bigEndian) { length in
            encoding.append(contentsOf: UnsafeRawBufferPointer(rebasing: length[(4 - lengthBytes)...]))
        }
        encoding.append(contentsOf: body)
        return encoding
    }

    // MARK: Reading

    /// The body of a `bin` that is all of `bytes`.
    static func binBody(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let lead = bytes.first else { return nil }
        switch lead {
        case MessagePackFormat.bin8: return body(of: bytes, after: 1, lengthBytes: 1)
        case MessagePackFormat.bin16: return body(of: bytes, after: 1, lengthBytes: 2)
        case MessagePackFormat.bin32: return body(of: bytes, after: 1, lengthBytes: 4)
        default: return nil
        }
    }

    /// The body of a `str` that is all of `bytes`.
    private static func strBody(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let lead = bytes.first else { return nil }
        switch lead {
        case MessagePackFormat.fixStr...MessagePackFormat.fixStrMax:
            let length = Int(lead & 0x1f)
            guard bytes.count == 1 + length else { return nil }
            return UnsafeRawBufferPointer(rebasing: bytes[1...])
        case MessagePackFormat.str8: return body(of: bytes, after: 1, lengthBytes: 1)
        case MessagePackFormat.str16: return body(of: bytes, after: 1, lengthBytes: 2)
        case MessagePackFormat.str32: return body(of: bytes, after: 1, lengthBytes: 4)
        default: return nil
        }
    }

    /// The body after a header of `after` bytes and a big-endian length of
    /// `lengthBytes`, if the body ends exactly where `bytes` do.
    private static func body(of bytes: UnsafeRawBufferPointer, after lead: Int,
                             lengthBytes: Int) -> UnsafeRawBufferPointer? {
        let start = lead + lengthBytes
        guard bytes.count >= start else { return nil }
        var length = 0
        for index in lead..<start { length = length << 8 | Int(bytes[index]) }
        guard bytes.count - start == length else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[start...])
    }
}
