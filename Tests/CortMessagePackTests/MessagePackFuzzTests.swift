import Foundation
import Testing
@testable import CortMessagePack

/// Throws random and mutated inputs at the decoder: none may crash, and each
/// must either decode or throw a DecodingError.
struct MessagePackFuzzTests {
    /// SplitMix64: small, fast and deterministic for a given seed.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    struct Tree: Codable, Equatable {
        var name: String
        var weight: Double?
        var children: [Tree]
        var tags: [Int: String]
    }

    static func seeds() throws -> [[UInt8]] {
        let encoder = MessagePackEncoder()
        let tree = Tree(name: "root", weight: 1.5, children: [
            Tree(name: "a", weight: nil, children: [], tags: [1: "x", -2: "y"]),
            Tree(name: "b\u{e9}", weight: -3, children: [Tree(name: "c", weight: 0, children: [], tags: [:])], tags: [:]),
        ], tags: [300: "z"])
        let any = AnyMessagePack.map([
            "n": .none, "b": .bool(true), "i": .int(-70000), "u": .uint(.max), "d": .double(0.5),
            "s": .string(String(repeating: "s", count: 40)), "bin": .bytes(Data(repeating: 1, count: 300)),
            "t": .date(Date(timeIntervalSince1970: 1_700_000_000.5)),
            "a": .array([.int(1), .array([.string("deep")]), .intMap([7: .bool(false)])]),
        ])
        return [
            try encoder.encode(Envelope.sample),
            try encoder.encode(tree),
            try encoder.encode(any),
            try encoder.encode([Date(timeIntervalSince1970: -1), Date(timeIntervalSince1970: 1_099_511_627_776)]),
            try encoder.encode(["k": [1, 2, 3], "long": Array(0..<40), "empty": []]),
        ]
    }

    /// One mutation of a valid encoding.
    static func mutate(_ input: [UInt8], using rng: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        let rounds = Int.random(in: 1...3, using: &rng)
        for _ in 0..<rounds where !bytes.isEmpty {
            let at = Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0: bytes[at] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            case 1: bytes.removeSubrange(at...)
            case 2: bytes.insert(UInt8.random(in: 0...255, using: &rng), at: at)
            case 3: bytes[at] = UInt8.random(in: 0...255, using: &rng)
            case 4:
                // Corrupt a length field: a wide header with a huge or slightly-off count.
                let headers: [UInt8] = [0xdc, 0xdd, 0xde, 0xdf, 0xda, 0xdb, 0xc5, 0xc6, 0xc8, 0xc9]
                let length: [UInt8] = Bool.random(using: &rng) ? [0xff, 0xff, 0xff, 0xff] : [0, 0, 0, UInt8.random(in: 0...40, using: &rng)]
                bytes.replaceSubrange(at..<min(at + 1, bytes.count), with: [headers.randomElement(using: &rng)!] + length)
            case 5:
                // A fix-family header with another count.
                bytes[at] = [0x80, 0x90, 0xa0][Int.random(in: 0..<3, using: &rng)] | UInt8.random(in: 0...15, using: &rng)
            default:
                let end = min(bytes.count, at + Int.random(in: 1...16, using: &rng))
                bytes.insert(contentsOf: bytes[at..<end], at: Int.random(in: 0...bytes.count, using: &rng))
            }
        }
        return bytes
    }

    static func random(using rng: inout SeededGenerator) -> [UInt8] {
        // Bias towards format bytes so that random input reaches past the first byte.
        let interesting: [UInt8] = [0x80, 0x81, 0x91, 0x92, 0xa1, 0xc0, 0xc1, 0xc3, 0xc4, 0xc7, 0xcc, 0xd0, 0xd6, 0xd7, 0xd9, 0xdc, 0xde, 0xdf, 0xff]
        return (0..<Int.random(in: 0...48, using: &rng)).map { _ in
            Bool.random(using: &rng) ? interesting.randomElement(using: &rng)! : UInt8.random(in: 0...255, using: &rng)
        }
    }

    enum Outcome { case decoded, rejected }

    static func attempt<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], _ decoder: MessagePackDecoder) -> Outcome? {
        do {
            _ = try decoder.decode(type, from: bytes)
            return .decoded
        } catch is DecodingError {
            return .rejected
        } catch {
            return nil
        }
    }

    /// Async so that it can yield: 100,000 decodes (each rejection also
    /// makes Swift Testing capture a backtrace) take seconds of CPU, and
    /// without suspension points they would hold a thread of the cooperative
    /// pool, which has as many threads as cores, from every test beside it.
    @Test func randomAndMutatedInputsNeverCrashAndOnlyThrowDecodingError() async throws {
        let seed = ProcessInfo.processInfo.environment["CORT_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5eed_c0de_2026
        print("MessagePackFuzzTests seed: \(seed) (set CORT_FUZZ_SEED to replay another)")
        var rng = SeededGenerator(state: seed)
        var decoder = MessagePackDecoder()
        decoder.maxDepth = 64
        let seeds = try Self.seeds()
        let iterations = 100_000
        let deadline = ContinuousClock.now + .seconds(120)
        var decoded = 0, rejected = 0
        for iteration in 0..<iterations {
            if iteration % 1000 == 0 && ContinuousClock.now > deadline {
                Issue.record("fuzzing passed its deadline after \(iteration) inputs")
                return
            }
            if iteration % 100 == 0 { await Task.yield() }
            let input = iteration % 4 == 0
                ? Self.random(using: &rng)
                : Self.mutate(seeds[iteration % seeds.count], using: &rng)
            let outcome: Outcome?
            switch iteration % 4 {
            case 0: outcome = Self.attempt(AnyMessagePack.self, input, decoder)
            case 1: outcome = Self.attempt(Envelope.self, input, decoder)
            case 2: outcome = Self.attempt(Tree.self, input, decoder)
            default: outcome = Self.attempt([String: [Int]].self, input, decoder)
            }
            guard let outcome else {
                Issue.record("input \(Hex.string(input)) threw something other than DecodingError (seed \(seed), iteration \(iteration))")
                return
            }
            if outcome == .decoded { decoded += 1 } else { rejected += 1 }
        }
        #expect(decoded + rejected == iterations)
        // Mutations keep some inputs valid; the corpus must exercise both outcomes.
        #expect(decoded > 500 && rejected > 1000, "decoded \(decoded), rejected \(rejected)")
        print("MessagePackFuzzTests: \(decoded) decoded, \(rejected) rejected")
    }

    @Test func unmutatedSeedsDecode() throws {
        let seeds = try Self.seeds()
        #expect(Self.attempt(Envelope.self, seeds[0], MessagePackDecoder()) == .decoded)
        #expect(Self.attempt(Tree.self, seeds[1], MessagePackDecoder()) == .decoded)
        for input in seeds {
            #expect(Self.attempt(AnyMessagePack.self, input, MessagePackDecoder()) == .decoded)
        }
    }
}
