import Testing
@testable import Cort

@Suite struct CallIDTableTests {
    /// Against a `Dictionary` doing the same: ids from ``CallIDs`` and ids
    /// made to share low bits (long probe runs that wrap around the end of
    /// the table), inserted, replaced and removed in a random order.
    @Test func behavesAsADictionaryOfTheSameIDs() {
        var generator = SystemRandomNumberGenerator()
        let ids = CallIDs()
        var table = CallIDTable<Int>()
        var model: [UInt64: Int] = [:]
        // High bits apart, low bits equal: every one of them has the same home bucket.
        let crowded = (1...40).map { UInt64($0) << 40 | 0xF }
        var live: [UInt64] = []
        for step in 0..<20_000 {
            switch Int.random(in: 0..<10, using: &generator) {
            case 0..<5:
                let id = step % 3 == 0 ? crowded.randomElement(using: &generator)! : ids.next()
                #expect(table.updateValue(step, forKey: id) == model.updateValue(step, forKey: id))
                if !live.contains(id) { live.append(id) }
            case 5..<9 where !live.isEmpty:
                let id = live.remove(at: Int.random(in: 0..<live.count, using: &generator))
                #expect(table.removeValue(forKey: id) == model.removeValue(forKey: id))
            default:
                let id = live.randomElement(using: &generator) ?? ids.next()
                #expect(table[id] == model[id])
            }
            #expect(table.count == model.count)
        }
        for id in crowded + live { #expect(table[id] == model[id], "id \(id)") }
        #expect(table.allValues.sorted() == model.values.sorted())
        #expect(table.filter { _, value in value % 2 == 0 } == model.filter { $0.value % 2 == 0 })
        #expect(table[0] == nil && table.removeValue(forKey: 0) == nil)
        table.removeAll()
        #expect(table.isEmpty && table.allValues.isEmpty)
        #expect(live.allSatisfy { table[$0] == nil })
    }

    /// An id nobody entered (say, sent back by a hostile node) is not
    /// found, whatever its bits, and finding nothing changes nothing.
    @Test func anUnknownIDIsNotFound() {
        var table = CallIDTable<String>()
        table[0x10] = "a"
        table[0x20] = "b"
        #expect(table[0x30] == nil)
        #expect(table.removeValue(forKey: 0x30) == nil)
        #expect(table.count == 2 && table[0x10] == "a" && table[0x20] == "b")
        table[0x10] = nil
        #expect(table.count == 1 && table[0x20] == "b")
    }
}
