import Synchronization

/// Call ids a node cannot guess: a counter sent through a keyed permutation
/// of 64-bit numbers, so ids never repeat on one connection, and knowing
/// some of them tells nothing of the next.
///
/// The permutation is the block cipher Speck64/128 (Beaulieu et al., "The
/// SIMON and SPECK Families of Lightweight Block Ciphers", 2013: a 64-bit
/// block, a 128-bit key, 27 rounds of add, rotate and xor) under a random
/// key chosen for each generator. A node sees only the ids of the calls
/// sent to it; with replies also checked against the connection the call
/// went out on, it can neither answer another node's calls nor predict
/// them. (A four-round Feistel network over SipHash did the same in about
/// 700 instructions an id; the cipher takes about 200.)
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
    private let cipher: Speck64

    init() {
        var random = SystemRandomNumberGenerator()
        cipher = Speck64(key: (random.next(), random.next(), random.next(), random.next()))
    }

    /// The next id: unique for this generator (2^64 - 1 of them), never 0.
    func next() -> UInt64 {
        while true {
            let id = cipher.encrypt(counter.wrappingAdd(1, ordering: .relaxed).newValue)
            if id != 0 { return id }
        }
    }
}

/// Speck64/128: a keyed permutation of 64-bit numbers. The block is two
/// 32-bit words, `x` the high one and `y` the low one, as the cipher's
/// designers write them.
struct Speck64: Sendable {
    static let rounds = 27
    private let roundKeys: [UInt32]

    /// `key` is the four 32-bit words of the key, the first being the
    /// first round's key (the designers' k₀, then ℓ₀, ℓ₁, ℓ₂).
    init(key: (UInt32, UInt32, UInt32, UInt32)) {
        var keys = [UInt32](repeating: 0, count: Self.rounds)
        var schedule = [key.1, key.2, key.3]
        keys[0] = key.0
        for round in 0..<(Self.rounds - 1) {
            let next = (keys[round] &+ schedule[round].rotatedRight(by: 8)) ^ UInt32(round)
            schedule.append(next)
            keys[round + 1] = keys[round].rotatedLeft(by: 3) ^ next
        }
        roundKeys = keys
    }

    func encrypt(_ block: UInt64) -> UInt64 {
        var x = UInt32(truncatingIfNeeded: block >> 32)
        var y = UInt32(truncatingIfNeeded: block)
        roundKeys.withUnsafeBufferPointer { keys in
            for key in keys {
                x = (x.rotatedRight(by: 8) &+ y) ^ key
                y = y.rotatedLeft(by: 3) ^ x
            }
        }
        return UInt64(x) << 32 | UInt64(y)
    }
}

extension UInt32 {
    fileprivate func rotatedLeft(by count: UInt32) -> UInt32 { self << count | self >> (32 - count) }
    fileprivate func rotatedRight(by count: UInt32) -> UInt32 { self >> count | self << (32 - count) }
}
