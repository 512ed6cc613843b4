import CortMessagePack
import Foundation
import Testing
@testable import Cort

/// Batch frames sent to a node by a raw ZeroMQ caller (docs/PROTOCOL.md,
/// "batch"): each entry is read and answered as the envelope it would be
/// alone, a malformed batch runs nothing and tells each call it names why,
/// and a caller that sends batches and never reads is held to the same
/// bounds as one that sends its requests one by one.
@Suite struct BatchInputTests {
    static func batch(_ entries: [[UInt8]]) -> [UInt8] {
        var writer = WireBatchWriter()
        for entry in entries { writer.append(entry) }
        return writer.finish()
    }

    /// Answers from `raw` until `count` envelopes arrived (or 30 s of silence).
    static func answers(_ raw: RawCaller, count: Int) async throws -> [UInt64: Envelope] {
        var answers: [UInt64: Envelope] = [:]
        for envelope in try await raw.receiveAll(idle: .seconds(30), limit: count) {
            answers[envelope.id] = envelope
        }
        return answers
    }

    /// A node hosting `greeter`, a raw caller connected to it, and a captured
    /// request for `Greeter.hello(name: "batch")`; the raw caller closes after `body`.
    static func withGreeter(_ body: (CortSystem, RawCaller, CallRequest) async throws -> Void) async throws {
        let hello = try await CapturedRequests.request(Greeter.self) { _ = try await $0.hello(name: "batch") }
        try await HostilePeerTests.withNode(host: { node in
            try await node.host("greeter", replicas: 2) { Greeter(actorSystem: $0) }
        }) { node, _, endpoint in
            let raw = try RawCaller()
            try raw.connect(endpoint)
            try await body(node, raw, hello)
            raw.close()
        }
    }

    @Test func eachEntryIsAnsweredAsItWouldBeAlone() async throws {
        try await Self.withGreeter { node, raw, hello in
            let number = try MessagePackEncoder().encode(42)
            try await raw.send(Self.batch([
                HostilePeerTests.request(hello, id: 1, service: "greeter"),
                HostilePeerTests.request(hello, id: 2, service: "nope"),
                HostilePeerTests.request(hello, id: 3, service: "greeter") { $0.arguments = [number] },
                RawCaller.encode(.ping(sequence: 4)),
                [0xc1, 0x00, 0x01],
                HostilePeerTests.request(hello, id: 5, service: "greeter"),
                RawCaller.encode(.cancel(id: 99)),
            ]))
            // Six answers: the cancel of a call the node does not have gets none.
            let answers = try await Self.answers(raw, count: 6)
            for id: UInt64 in [1, 5] {
                guard case .reply(_, let result?) = answers[id] else {
                    Issue.record("call \(id) got \(String(describing: answers[id]))")
                    continue
                }
                #expect(try MessagePackDecoder().decode(String.self, from: result) == "Hello, batch!")
            }
            #expect(HostilePeerTests.failure(answers[2])?.failure.code == .unknownTarget)
            #expect(HostilePeerTests.failure(answers[3])?.failure.code == .badArguments)
            // A ping is not for a batch; bytes without a header answer as id 0.
            #expect(HostilePeerTests.failure(answers[4])?.failure.code == .protocolError)
            #expect(HostilePeerTests.failure(answers[0])?.failure.code == .protocolError)
            let counters = try await node.nodeCounters()
            #expect(counters.batches == 1)
            #expect(counters.requests == 4)
        }
    }

    @Test func aBatchWrittenInAnotherFormatIsAnsweredAsABatch() async throws {
        try await Self.withGreeter { node, raw, hello in
            // The envelope's array as an array 16 and the version as a uint 8.
            let cort = Self.batch([HostilePeerTests.request(hello, id: 1, service: "greeter"),
                                   HostilePeerTests.request(hello, id: 2, service: "greeter")])
            try await raw.send([0xdc, 0x00, 0x04, 0xcc, 0x01] + cort.dropFirst(2))
            let answers = try await Self.answers(raw, count: 2)
            for id: UInt64 in [1, 2] {
                guard case .reply = answers[id] else {
                    Issue.record("call \(id) got \(String(describing: answers[id]))")
                    continue
                }
            }
            #expect(try await node.nodeCounters().batches == 1)
        }
    }

    @Test func answersTooLargeForABatchGoAloneBesideBatchedOnes() async throws {
        let filler = try await CapturedRequests.request(Probe.self) { _ = try await $0.filler(16) }
        try await HostilePeerTests.withNode(host: { node in
            try await node.host("probe", replicas: 2) { Probe(actorSystem: $0) }
        }) { _, _, endpoint in
            let raw = try RawCaller()
            try raw.connect(endpoint)
            // Half over the half of a batch's bytes an answer may take to go in one.
            let sizes = (0..<16).map { $0 % 2 == 0 ? 16 : WireBatchWriter.maxBytes / 2 + 1_000 }
            let encoder = MessagePackEncoder()
            try await raw.send(Self.batch(try sizes.enumerated().map { index, size in
                let count = try encoder.encode(size)
                return HostilePeerTests.request(filler, id: UInt64(index + 1), service: "probe") { $0.arguments = [count] }
            }))
            let answers = try await Self.answers(raw, count: sizes.count)
            for (index, size) in sizes.enumerated() {
                guard case .reply(_, let result?) = answers[UInt64(index + 1)] else {
                    Issue.record("call \(index + 1) got \(String(describing: answers[UInt64(index + 1)]))")
                    continue
                }
                #expect(try MessagePackDecoder().decode(Data.self, from: result).count == size)
            }
            raw.close()
        }
    }

    @Test func aMalformedBatchRunsNothingAndEachOfItsCallsIsTold() async throws {
        let increment = try await CapturedRequests.request(Tally.self) { _ = try await $0.increment() }
        try await HostilePeerTests.withNode(host: { node in
            try await node.host("tally", replicas: 1) { Tally(actorSystem: $0) }
        }) { node, caller, endpoint in
            let raw = try RawCaller()
            try raw.connect(endpoint)
            let requests = (1...3).map { HostilePeerTests.request(increment, id: UInt64($0), service: "tally") }
            // A byte after the batch.
            try await raw.send(Self.batch(requests) + [0xc0])
            var answers = try await Self.answers(raw, count: 4)
            #expect(HostilePeerTests.failure(answers[0])?.failure.message.contains("malformed batch") == true)
            for id: UInt64 in 1...3 {
                let refusal = HostilePeerTests.failure(answers[id])?.failure
                #expect(refusal?.code == .protocolError)
                #expect(refusal?.message.contains("did not run") == true)
            }
            // More entries than a batch may hold: the first 64 are told, none runs.
            let limit = WireLimits().maxBatchEntries
            var frame: [UInt8] = [0x94, 0x01, 0x0a, 0x00, 0xdc, 0x00, UInt8(limit + 1)]
            for id in 1...(limit + 1) {
                let request = HostilePeerTests.request(increment, id: UInt64(100 + id), service: "tally")
                frame += [0xc5, UInt8(request.count >> 8), UInt8(request.count & 0xff)] + request
            }
            try await raw.send(frame)
            answers = try await Self.answers(raw, count: limit + 1)
            #expect(answers[0] != nil)
            #expect((101...(100 + limit)).allSatisfy { HostilePeerTests.failure(answers[UInt64($0)])?.failure.code == .protocolError })
            #expect(answers[UInt64(101 + limit)] == nil)
            // Nothing ran: the service's first increment is this one.
            let tally = try Tally.resolve(id: .service("tally"), using: caller)
            #expect(try await tally.increment() == 1)
            #expect(try await node.nodeCounters().badFrames >= 2)
            raw.close()
        }
    }

    @Test func aCallerThatSendsBatchesAndNeverReadsIsBoundedAndOthersAreServed() async throws {
        // Answers of 16 KB go in batches of up to four.
        let filler = try await CapturedRequests.request(Probe.self) { _ = try await $0.filler(16_000) }
        var limits = NodeLimits()
        limits.answerBytesPerCaller = 1 << 20
        try await HostilePeerTests.withNode(nodeLimits: limits, host: { node in
            try await node.host("probe", replicas: 2) { Probe(actorSystem: $0) }
        }) { node, caller, endpoint in
            let flooder = try RawCaller(receiveHighWaterMark: 1)
            try flooder.connect(endpoint)
            // 4,096 answers of 16 KB it never reads would be 64 MB.
            let flood = Task {
                for first in stride(from: 1, through: 4096, by: 64) {
                    try await flooder.send(Self.batch((first..<(first + 64)).map {
                        HostilePeerTests.request(filler, id: UInt64($0), service: "probe")
                    }))
                }
            }
            let probe = try Probe.resolve(id: .service("probe"), using: caller)
            for _ in 0..<50 {
                #expect(try await probe.filler(16).count == 16)
            }
            try await flood.value
            let counters = try await node.nodeCounters()
            #expect(counters.batches > 0, "\(counters)")
            #expect(counters.droppedAnswers > 0, "\(counters)")
            // What it holds for the flooder: its budget, plus the batch that found it spent.
            let snapshot = try await node.nodeSnapshot()
            #expect(snapshot.answerBytes <= limits.answerBytesPerCaller + WireBatchWriter.maxBytes + 16_384, "\(snapshot)")
            #expect(snapshot.calls <= 64 + 4, "no more than the queue and the replicas: \(snapshot)")
            flooder.close()
        }
    }
}
