extension NodeServer {
    /// A call waiting in a lane's fair queue: its key, and its slot in the
    /// node's ``CallTable`` (checked against the key when it is taken).
    struct QueuedCall: Equatable {
        let key: CallKey
        let slot: Int
    }

    /// The calls a node accepted, each in a slot.
    ///
    /// What the node holds on to a call (its place in a lane's queue) names
    /// its slot, so starting it hashes nothing; a frame that names a call (a
    /// request, a cancel) and the call's end go through one hash of its key,
    /// in an index by key. Each caller's calls are linked through their
    /// slots, so the calls of a caller that leaves are found without a set
    /// of ids per caller (two hashes a call more, about 500 instructions at
    /// 64 calls in flight, callgrind). Slots are reused; the node's bounds on
    /// calls bound them.
    ///
    /// ```swift
    /// var calls = NodeServer.CallTable()
    /// let slot = calls.insert(call, for: key)    // nil: the key is in already
    /// calls.call(at: slot!, key: key)            // the call, while it is in
    /// calls[key]                                 // the same, through a hash
    /// calls.calls(of: key.peer)                  // [(key, call)]
    /// calls.remove(key)                          // the call, and its slot is free
    /// ```
    struct CallTable {
        // Parallel arrays by slot: the keys and links are plain values, so
        // checking a slot's key copies no call (one array of structs holding
        // both copied the whole slot, its references retained, on a check).
        private var keys: [CallKey] = []
        private var calls: [AcceptedCall?] = []
        /// The slots of the previous and next call of the same caller slot
        /// (-1: none); only meaningful while the slot holds a call.
        private var links: [(previous: Int, next: Int)] = []
        private var freeSlots: [Int] = []
        private var index: [CallKey: Int] = [:]
        /// By the caller's slot in the peer table: the slot of its newest
        /// call (-1: none). Callers that held a slot one after another
        /// share its list until the first one's calls are gone; keys tell
        /// them apart.
        private var heads: [Int] = []

        var count: Int { index.count }
        var isEmpty: Bool { index.isEmpty }

        /// Enters `call` under `key`: its slot, or nil (and nothing
        /// changed) when a call is in under that key already.
        mutating func insert(_ call: consuming AcceptedCall, for key: CallKey) -> Int? {
            let slot = freeSlots.popLast() ?? keys.count
            // One hash both finds a call already in under this key and
            // enters this one; the rare duplicate puts the old slot back.
            if let existing = index.updateValue(slot, forKey: key) {
                index[key] = existing
                if slot < keys.count { freeSlots.append(slot) }
                return nil
            }
            let peerSlot = key.peer.slot
            while heads.count <= peerSlot { heads.append(-1) }
            let head = heads[peerSlot]
            if slot == keys.count {
                keys.append(key)
                calls.append(consume call)
                links.append((previous: -1, next: head))
            } else {
                keys[slot] = key
                calls[slot] = consume call
                links[slot] = (previous: -1, next: head)
            }
            if head >= 0 { links[head].previous = slot }
            heads[peerSlot] = slot
            return slot
        }

        /// The call in `slot`, if it is still the one entered under `key`.
        func call(at slot: Int, key: CallKey) -> AcceptedCall? {
            guard slot >= 0, slot < keys.count, keys[slot] == key else { return nil }
            return calls[slot]
        }

        /// The call entered under `key`, if it is in.
        subscript(key: CallKey) -> AcceptedCall? {
            index[key].flatMap { calls[$0] }
        }

        /// Takes the call entered under `key` out; its slot is free again.
        mutating func remove(_ key: CallKey) -> AcceptedCall? {
            guard let slot = index.removeValue(forKey: key) else { return nil }
            let (previous, next) = links[slot]
            if previous >= 0 {
                links[previous].next = next
            } else {
                heads[key.peer.slot] = next
            }
            if next >= 0 { links[next].previous = previous }
            links[slot] = (previous: -1, next: -1)
            freeSlots.append(slot)
            return calls[slot].take()
        }

        /// `peer`'s calls with their keys, newest first.
        func calls(of peer: PeerTable.Ref) -> [(key: CallKey, call: AcceptedCall)] {
            guard peer.slot < heads.count else { return [] }
            var found: [(key: CallKey, call: AcceptedCall)] = []
            var slot = heads[peer.slot]
            while slot >= 0 {
                if keys[slot].peer == peer, let call = calls[slot] { found.append((keys[slot], call)) }
                slot = links[slot].next
            }
            return found
        }
    }
}
