import Synchronization

/// Call ids a node cannot guess: a counter sent through a keyed permutation
/// of 64-bit numbers, so ids never repeat on one connection, and knowing
/// some of them tells nothing of the next.
///
/// The permutation is a four-round Feistel network whose round function is
/// SipHash (Swift's `Hasher`, seeded at random for each process) over a
/// random key chosen for each generator. A node sees only the ids of the
/// calls sent to it; with replies also checked against the connection the
/// call went out on, it can neither answer another node's calls nor predict
/// them.
///
/// Safe to share: the counter is atomic, so calls take ids on their own
/// threads without a lock.
///
/// ```swift
/// let ids = CallIDs()
/// let first = ids.next()    // e.g. 0x5d1c_93a0_7e2b_44f1; never 0, never twice
/// ```
final class CallIDs: Sendable {
    private let counter = Atomic<UInt64>(0)
    private let keys: (UInt64, UInt64, UInt64, UInt64)

    init() {
        var random = SystemRandomNumberGenerator()
        keys = (random.next(), random.next(), random.next(), random.next())
    }

    /// The next id: unique for this generator (2^64 - 1 of them), never 0.
    func next() -> UInt64 {
        while true {
            let id = permute(counter.wrappingAdd(1, ordering: .relaxed).newValue)
            if id != 0 { return id }
        }
    }

    private func permute(_ value: UInt64) -> UInt64 {
        var left = UInt32(truncatingIfNeeded: value >> 32)
        var right = UInt32(truncatingIfNeeded: value)
        (left, right) = (right, left ^ Self.round(right, key: keys.0))
        (left, right) = (right, left ^ Self.round(right, key: keys.1))
        (left, right) = (right, left ^ Self.round(right, key: keys.2))
        (left, right) = (right, left ^ Self.round(right, key: keys.3))
        return UInt64(left) << 32 | UInt64(right)
    }

    private static func round(_ half: UInt32, key: UInt64) -> UInt32 {
        var hasher = Hasher()
        hasher.combine(key)
        hasher.combine(half)
        return UInt32(truncatingIfNeeded: hasher.finalize())
    }
}
