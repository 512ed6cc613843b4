#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@_silgen_name("swift_demangle")
private func _swiftDemangle(
    _ mangledName: UnsafePointer<CChar>?, _ mangledNameLength: Int,
    _ outputBuffer: UnsafeMutablePointer<CChar>?, _ outputBufferSize: UnsafeMutablePointer<Int>?,
    _ flags: UInt32
) -> UnsafeMutablePointer<CChar>?

/// Swift's own demangling of a symbol (through the runtime's exported
/// `swift_demangle`), or nil when the text is not a Swift symbol.
func demangle(_ mangled: String) -> String? {
    let utf8 = Array(mangled.utf8CString)
    guard let result = utf8.withUnsafeBufferPointer({ _swiftDemangle($0.baseAddress, utf8.count - 1, nil, nil, 0) }) else {
        return nil
    }
    defer { free(result) }
    return String(cString: result)
}
