/// Names a node reads in request after request (services, targets,
/// methods), kept so that the same bytes give back the same `String`
/// without an allocation: a String of more than 15 bytes is one.
///
/// Bounded: at most ``capacity`` names; when full it starts over, so bytes
/// a peer sends cannot grow it. A hash that matches is checked byte by byte.
package final class RecentNames {
    let capacity: Int
    /// Not checked for exclusivity at run time: one owner (a node's intake,
    /// on its reactor) uses it, never re-entrantly, and the check cost a
    /// runtime call a request.
    @exclusivity(unchecked) private var byHash: [Int: String] = [:]

    package init(capacity: Int = 256) {
        self.capacity = capacity
    }

    /// How many names it holds (for tests of its bound).
    var count: Int { byHash.count }

    /// The string `utf8` spells, if it was read before and kept.
    func string(_ utf8: UnsafeBufferPointer<UInt8>, hash: Int) -> String? {
        guard let known = byHash[hash] else { return nil }
        // bytesEqual: the generic elementsEqual cost about 1,500 instructions
        // a request, its three names together (callgrind).
        let same = known.utf8.withContiguousStorageIfAvailable {
            bytesEqual(UnsafeRawBufferPointer($0), UnsafeRawBufferPointer(utf8))
        } ?? known.utf8.elementsEqual(utf8)
        return same ? known : nil
    }

    /// Keeps `string`, read from bytes with `hash`.
    func keep(_ string: String, hash: Int) {
        if byHash.count >= capacity { byHash.removeAll(keepingCapacity: true) }
        byHash[hash] = string
    }

    /// FNV-1a: a key for the table only, never trusted (a match is
    /// compared byte by byte, and a collision replaces the entry, so crafted
    /// names cannot make lookups slow). `Hasher`'s SipHash cost several
    /// hundred instructions a request.
    static func hash(_ utf8: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return Int(bitPattern: UInt(hash))
    }
}
