import Testing
@testable import Cort

@Suite struct CallIDsTests {
    @Test func idsNeverRepeatAndAreNeverZero() async {
        var ids = CallIDs()
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
        var first = CallIDs()
        var second = CallIDs()
        let a = (0..<16).map { _ in first.next() }
        let b = (0..<16).map { _ in second.next() }
        #expect(a != b)
        let steps = zip(a, a.dropFirst()).map { $1 &- $0 }
        #expect(Set(steps).count > 1, "ids do not advance by a fixed step")
        #expect(a.filter { $0 < 1 << 32 }.count < 4, "ids use the whole 64 bits")
    }
}
