#if canImport(Glibc)
internal import Glibc
#elseif canImport(Darwin)
internal import Darwin
#endif

/// Whether two byte buffers hold the same bytes, by `memcmp`: on a node's
/// path for every frame (routing ids, recent names, a CURVE caller's key),
/// where the generic `elementsEqual` cost about 1,000 instructions for a
/// 20-byte routing id (callgrind).
func bytesEqual(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> Bool {
    guard first.count == second.count else { return false }
    guard let a = first.baseAddress, let b = second.baseAddress else { return true }
    return memcmp(a, b, first.count) == 0
}
