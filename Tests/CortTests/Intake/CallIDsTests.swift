import Testing
@testable import Cort

@Suite struct CallIDsTests {
    @Test func idsNeverRepeatAndAreNeverZero() async {
        let ids = CallIDs()
        var seen = Set<UInt64>()
        for index in 0..<100_000 {
            if index % 5_000 == 0 { await Task.yield() }  // leaves the cooperative pool to the tests beside it
            let id = ids.next()
            #expect(id != 0)
            seen.insert(id)
        }
        #expect(seen.count == 100_000)
    }

    @Test func consecutiveIdsAreNotConsecutiveNumbersAndGeneratorsDiffer() {
        let first = CallIDs()
        let second = CallIDs()
        let a = (0..<16).map { _ in first.next() }
        let b = (0..<16).map { _ in second.next() }
        #expect(a != b)
        let steps = zip(a, a.dropFirst()).map { $1 &- $0 }
        #expect(Set(steps).count > 1, "ids do not advance by a fixed step")
        #expect(a.filter { $0 < 1 << 32 }.count < 4, "ids use the whole 64 bits")
    }

    /// The permutation is Speck64/128: the designers' test vector (key
    /// 1b1a1918 13121110 0b0a0908 03020100, plaintext 3b726574 7475432d,
    /// ciphertext 8c6fa548 454e028b).
    @Test func theCipherIsSpeck64With128BitKeys() {
        let cipher = Speck64(key: (0x0302_0100, 0x0b0a_0908, 0x1312_1110, 0x1b1a_1918))
        #expect(cipher.encrypt(0x3b72_6574_7475_432d) == 0x8c6f_a548_454e_028b)
        let other = Speck64(key: (0x0302_0101, 0x0b0a_0908, 0x1312_1110, 0x1b1a_1918))
        #expect(other.encrypt(0x3b72_6574_7475_432d) != 0x8c6f_a548_454e_028b)
    }

    /// Calls take their ids on their own threads, outside the remote
    /// service's lock: ids taken at once from several tasks never repeat.
    @Test func idsTakenConcurrentlyNeverRepeat() async {
        let ids = CallIDs()
        let taken = await withTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<5_000).map { _ in ids.next() } }
            }
            var all: [UInt64] = []
            for await part in group { all += part }
            return all
        }
        #expect(taken.count == 40_000)
        #expect(Set(taken).count == 40_000)
        #expect(!taken.contains(0))
    }
}
