/// Values by call id, for ids from ``CallIDs``: an open-addressed table
/// (linear probing, at most half full) whose bucket is the id's low bits.
///
/// A caller's ids come out of a keyed permutation, so their low bits are
/// already spread as a hash's would be and are used as they are: a
/// `Dictionary` runs SipHash over each id first (about 200 instructions a
/// look-up, four or five look-ups a call at 64 in flight, callgrind). A peer
/// picks no id that goes in; the ids it sends back are only looked up, and
/// a look-up ends at the first empty bucket, so the ids in the table bound
/// its cost, not the peer. Not for ids a peer chooses.
///
/// ```swift
/// var table = CallIDTable<String>()
/// table[0x5d1c_93a0_7e2b_44f1] = "echo"
/// table[0x5d1c_93a0_7e2b_44f1]                          // "echo"
/// table.removeValue(forKey: 0x5d1c_93a0_7e2b_44f1)      // "echo"; the table is empty
/// ```
struct CallIDTable<Value> {
    /// 0 marks an empty bucket (``CallIDs`` never gives 0).
    private var ids: [UInt64]
    private var values: [Value?]
    private(set) var count = 0

    init() {
        ids = Array(repeating: 0, count: 16)
        values = Array(repeating: nil, count: 16)
    }

    /// The table's size is a power of two: an id's low bits under this are its bucket.
    private var mask: Int { ids.count - 1 }

    var isEmpty: Bool { count == 0 }

    private func home(of id: UInt64) -> Int {
        Int(truncatingIfNeeded: id) & mask
    }

    /// The bucket holding `id`, or nil.
    private func bucket(of id: UInt64) -> Int? {
        guard id != 0 else { return nil }
        var bucket = home(of: id)
        while ids[bucket] != 0 {
            if ids[bucket] == id { return bucket }
            bucket = (bucket + 1) & mask
        }
        return nil
    }

    subscript(id: UInt64) -> Value? {
        get { bucket(of: id).flatMap { values[$0] } }
        set {
            if let newValue { updateValue(newValue, forKey: id) } else { removeValue(forKey: id) }
        }
    }

    /// Sets `id`'s value; returns the value it replaced, if any.
    @discardableResult
    mutating func updateValue(_ value: consuming Value, forKey id: UInt64) -> Value? {
        precondition(id != 0, "call ids are never 0")
        if let bucket = bucket(of: id) {
            let old = values[bucket].take()
            values[bucket] = consume value
            return old
        }
        if (count + 1) * 2 > ids.count { grow() }
        place(id, consume value)
        count += 1
        return nil
    }

    /// Puts `id`, not in the table, in the first empty bucket from its home.
    private mutating func place(_ id: UInt64, _ value: consuming Value?) {
        var bucket = home(of: id)
        while ids[bucket] != 0 { bucket = (bucket + 1) & mask }
        ids[bucket] = id
        values[bucket] = consume value
    }

    /// Takes `id`'s value out, if it is in.
    @discardableResult
    mutating func removeValue(forKey id: UInt64) -> Value? {
        guard var hole = bucket(of: id) else { return nil }
        let value = values[hole].take()
        ids[hole] = 0
        count -= 1
        // Backward shift: an entry after the hole moves into it when the
        // hole lies on its probe path (between its home bucket and where
        // it is), so every entry stays reachable without tombstones.
        var next = (hole + 1) & mask
        while ids[next] != 0 {
            let home = home(of: ids[next])
            if (next &- home) & mask >= (next &- hole) & mask {
                ids[hole] = ids[next]
                values[hole] = values[next].take()
                ids[next] = 0
                hole = next
            }
            next = (next + 1) & mask
        }
        return value
    }

    mutating func removeAll() {
        for bucket in ids.indices where ids[bucket] != 0 {
            ids[bucket] = 0
            values[bucket] = nil
        }
        count = 0
    }

    /// Every value, in no particular order.
    var allValues: [Value] {
        ids.indices.compactMap { ids[$0] != 0 ? values[$0] : nil }
    }

    /// The entries that `isIncluded` keeps, by id.
    func filter(_ isIncluded: (_ id: UInt64, _ value: Value) -> Bool) -> [UInt64: Value] {
        var kept: [UInt64: Value] = [:]
        for bucket in ids.indices where ids[bucket] != 0 {
            if let value = values[bucket], isIncluded(ids[bucket], value) { kept[ids[bucket]] = value }
        }
        return kept
    }

    private mutating func grow() {
        let oldIDs = ids
        var oldValues = values
        ids = Array(repeating: 0, count: oldIDs.count * 2)
        values = Array(repeating: nil, count: oldIDs.count * 2)
        for bucket in oldIDs.indices where oldIDs[bucket] != 0 {
            place(oldIDs[bucket], oldValues[bucket].take())
        }
    }
}
