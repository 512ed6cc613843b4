import Benchmark
import BenchmarkSupport
import CortMessagePack

// cort's MessagePack coders against Foundation's JSON coders on the same
// envelope-like value. Each measured iteration is one encode + decode; run
// `scripts/ratios.py` for interleaved rounds and the ratio between the two.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal],
        scalingFactor: .kilo,
        maxDuration: .seconds(3)
    )

    Benchmark("codec: MessagePack encode+decode") { benchmark in
        let codecs = CodecPair()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(512)
        let value = CallEnvelope.sample
        for _ in benchmark.scaledIterations {
            blackHole(try codecs.messagePackRoundTrip(value, buffer: &buffer))
        }
    }

    Benchmark("codec: JSON encode+decode (baseline)") { benchmark in
        let codecs = CodecPair()
        let value = CallEnvelope.sample
        for _ in benchmark.scaledIterations {
            blackHole(try codecs.jsonRoundTrip(value))
        }
    }

    // One encode per iteration, no scaling, so the malloc count is per encode.
    Benchmark(
        "codec: MessagePack encode (mallocs per encode)",
        configuration: .init(metrics: [.mallocCountTotal, .wallClock], scalingFactor: .one)
    ) { benchmark in
        let encoder = MessagePackEncoder()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(512)
        let value = CallEnvelope.sample
        for _ in benchmark.scaledIterations {
            buffer.removeAll(keepingCapacity: true)
            try encoder.encode(value, into: &buffer)
            blackHole(buffer)
        }
    }

    Benchmark(
        "codec: MessagePack decode (mallocs per decode)",
        configuration: .init(metrics: [.mallocCountTotal, .wallClock], scalingFactor: .one)
    ) { benchmark in
        let decoder = MessagePackDecoder()
        let bytes = try MessagePackEncoder().encode(CallEnvelope.sample)
        for _ in benchmark.scaledIterations {
            blackHole(try decoder.decode(CallEnvelope.self, from: bytes))
        }
    }
}
