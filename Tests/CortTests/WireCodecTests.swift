import Testing
@testable import Cort

@Suite struct WireCodecTests {
    // MARK: round trips

    static let target = "$s3das7GreeterC5hello4name5timesS2S_SitYaKFTE"

    static let envelopes: [Envelope] = [
        .request(CallRequest(id: 1, service: "greeter", target: target, method: "Greeter.hello(name:times:)", timeout: .seconds(2))),
        .request(CallRequest(
            id: .max, service: "", actor: "", target: "", method: "", timeout: .zero, flags: [.idempotent])),
        .request(CallRequest(
            id: 0x7f, service: "grüße-服务-🦊", actor: "replica-é", target: target, method: "Grüße.hallo(name:)",
            timeout: .nanoseconds(1), metadata: ["traceparent": "00-abc-def-01", "ключ": "значение 🎉", "": ""],
            arguments: [[], [0xc0], Array(repeating: 0xff, count: 300)])),
        .request(CallRequest(
            id: 0x80, service: "s", target: "t", method: "m", timeout: .nanoseconds(UInt64.max.asInt64Clamped),
            arguments: Array(repeating: [0x01], count: 255))),
        .reply(id: 0, result: nil),
        .reply(id: .max, result: []),
        .reply(id: 0xffff, result: Array(repeating: 7, count: 70_000)),
        .failure(id: 9, CallFailure(code: .unknownTarget, message: "no service 'greeter' here")),
        .failure(id: .max, CallFailure(code: .shuttingDown, message: "", errorType: "", errorPayload: [])),
        .failure(id: 0x1_0000, CallFailure(code: .remoteApplicationError, message: "💥", errorType: "das.GreeterError", errorPayload: [0x81, 0xa1, 0x61, 0x01])),
        .cancel(id: 0),
        .cancel(id: .max),
        .ping(sequence: 0),
        .ping(sequence: 0xffff_ffff),
        .pong(sequence: 0x1_0000_0000, freeSlots: 0, incarnation: 1),
        .pong(sequence: .max, freeSlots: .max, incarnation: .max),
        .draining(incarnation: 0),
        .draining(incarnation: 0xdead_beef_0000_0001),
        .describe(sequence: 0),
        .describe(sequence: .max),
        .description(sequence: 1, services: []),
        .description(sequence: 0x1_0000, services: [
            ServiceDescription(name: "greeter", actorType: "das.Greeter", methods: [
                MethodDescription(name: "Greeter.hello(name:times:)",
                                  signature: "hello(name: String, times: Int) async throws -> String",
                                  target: target, isIdempotent: true),
                MethodDescription(name: "Greeter.bye()", signature: "bye() async throws", target: "$sb", isIdempotent: false),
            ]),
            ServiceDescription(name: "grüße-服务", actorType: "X.Y", methods: []),
        ]),
    ]

    @Test(arguments: envelopes)
    func roundTrips(envelope: Envelope) throws {
        let bytes = encoded(envelope)
        #expect(try decoded(bytes) == envelope)
    }

    @Test(arguments: envelopes)
    func theKindIsReadFromTheHeaderAlone(envelope: Envelope) throws {
        let bytes = encoded(envelope)
        let expected: WireFormat.Kind = switch envelope {
        case .request: .request
        case .reply: .reply
        case .failure: .error
        case .cancel: .cancel
        case .ping: .ping
        case .pong: .pong
        case .draining: .draining
        case .describe: .describe
        case .description: .description
        }
        #expect(bytes.withUnsafeBytes { WireCodec.kind(of: $0) } == expected)
        // The header is enough: a frame cut after it still tells its kind.
        #expect(Array(bytes.prefix(12)).withUnsafeBytes { WireCodec.kind(of: $0) } == expected)
    }

    @Test(arguments: envelopes)
    func roundTripsWithANodesRecentNames(envelope: Envelope) throws {
        let names = RecentNames()
        let bytes = encoded(envelope)
        // Twice: the second read finds the first one's names.
        let first = try bytes.withUnsafeBytes { (frame) throws(WireError) in try WireCodec.decode(frame, limits: WireLimits(), names: names) }
        let second = try bytes.withUnsafeBytes { (frame) throws(WireError) in try WireCodec.decode(frame, limits: WireLimits(), names: names) }
        #expect(first == envelope)
        #expect(second == envelope)
    }

    @Test func recentNamesGiveBackOnlyTheSameBytesAndStayBounded() throws {
        let names = RecentNames(capacity: 8)
        let long = "$s16BenchmarkSupport4EchoC4echoySays5UInt8VGAGYaKFTE"
        let other = "$s16BenchmarkSupport4EchoC4echoySays5UInt8VGAGYaKFTF"
        names.keep(long, hash: 42)
        // The same hash with other bytes is not taken for the kept name.
        Array(other.utf8).withUnsafeBufferPointer { #expect(names.string($0, hash: 42) == nil) }
        Array(long.utf8).withUnsafeBufferPointer { #expect(names.string($0, hash: 42) == long) }
        // A prefix of it, or it with a byte more, is not it either.
        Array(long.utf8.dropLast()).withUnsafeBufferPointer { #expect(names.string($0, hash: 42) == nil) }
        Array((long + "F").utf8).withUnsafeBufferPointer { #expect(names.string($0, hash: 42) == nil) }
        // The hash is the same for the same bytes and differs for these.
        let hashes = [long, other, long].map { name in Array(name.utf8).withUnsafeBufferPointer { RecentNames.hash($0) } }
        #expect(hashes[0] == hashes[2])
        #expect(hashes[0] != hashes[1])
        // A peer sending ever new targets cannot grow it past its capacity.
        for index in 0..<100 {
            let target = "\(long)-\(index)"
            let request = encoded(.request(CallRequest(id: UInt64(index), service: "echo", target: target,
                                                       method: "Echo.echo(_:)", timeout: .seconds(1))))
            let decoded = try request.withUnsafeBytes { (frame) throws(WireError) in
                try WireCodec.decode(frame, limits: WireLimits(), names: names)
            }
            guard case .request(let read) = decoded else { Issue.record("not a request"); return }
            #expect(read.target == target)
            #expect(names.count <= 8)
        }
    }

    @Test func bytesEqualComparesLengthAndEveryByte() {
        let bytes: [UInt8] = Array("n1234567890abcdef".utf8)
        func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
            a.withUnsafeBytes { first in b.withUnsafeBytes { second in bytesEqual(first, second) } }
        }
        #expect(equal(bytes, bytes))
        #expect(equal([], []))
        #expect(!equal(bytes, Array(bytes.dropLast())))
        #expect(!equal(bytes, []))
        var last = bytes
        last[last.count - 1] ^= 1
        #expect(!equal(bytes, last))
        var first = bytes
        first[0] ^= 0x80
        #expect(!equal(bytes, first))
    }

    @Test func noKindIsReadFromABrokenHeader() {
        let request = encoded(Self.envelopes[0])
        var otherVersion = request
        otherVersion[1] = 9
        var unknownKind = request
        unknownKind[2] = 0x7f
        for bytes in [[], [0x93], [0x92, 0x01, 0x01], [0xc0, 0x01, 0x01, 0x01], otherVersion, unknownKind,
                      Array(request.prefix(2))] {
            #expect(bytes.withUnsafeBytes { WireCodec.kind(of: $0) } == nil, "\(bytes.prefix(4))")
        }
    }

    @Test func aDescriptionOfTheWrongShapeIsAProtocolError() throws {
        // [1, 9, 5, [[name, type]]]: a service without its methods.
        let noMethods: [UInt8] = [0x94, 0x01, 0x09, 0x05, 0x91, 0x92, 0xa1, 0x61, 0xa1, 0x62]
        // [1, 9, 5, [["a", "b", [["m", "s", "t"]]]]]: a method without its flags.
        let noFlags: [UInt8] = [0x94, 0x01, 0x09, 0x05, 0x91, 0x93, 0xa1, 0x61, 0xa1, 0x62,
                                0x91, 0x93, 0xa1, 0x6d, 0xa1, 0x73, 0xa1, 0x74]
        // [1, 9, 5, [["a", "b", [...]]]] claiming 3 methods with none there.
        let truncated: [UInt8] = [0x94, 0x01, 0x09, 0x05, 0x91, 0x93, 0xa1, 0x61, 0xa1, 0x62, 0x93]
        for bytes in [noMethods, noFlags, truncated] {
            #expect(throws: WireError.self) { try decoded(bytes) }
            do {
                _ = try decoded(bytes)
            } catch {
                #expect(error.code == .protocolError && error.id == 5, "\(error.message)")
            }
        }
    }

    @Test func roundTripsEveryErrorCode() throws {
        let codes: [RemoteCallError.Code] = [
            .deadlineExceeded, .cancelled, .noNodes, .overloaded, .unknownTarget, .badArguments,
            .protocolError, .transport, .remoteApplicationError, .messageTooLarge, .shuttingDown,
        ]
        for code in codes {
            let envelope = Envelope.failure(id: 3, CallFailure(code: code, message: "m"))
            #expect(try decoded(encoded(envelope)) == envelope)
        }
    }

    @Test func roundTripsMetadataAtItsLimits() throws {
        let limits = WireLimits()
        var metadata: [String: String] = [:]
        for index in 0..<limits.maxMetadataEntries {
            let key = "k\(index)-" + String(repeating: "x", count: limits.maxMetadataFieldBytes - 2 - String(index).count)
            metadata[key] = String(repeating: "é", count: limits.maxMetadataFieldBytes / 2)
        }
        #expect(metadata.keys.allSatisfy { $0.utf8.count == limits.maxMetadataFieldBytes })
        let envelope = Envelope.request(CallRequest(id: 5, service: "s", target: "t", method: "m", timeout: .seconds(1), metadata: metadata))
        #expect(try decoded(encoded(envelope)) == envelope)
    }

    @Test func roundTripsEveryLengthBoundary() async throws {
        // The codec's own length formats, beyond the name limits of a node.
        var unbounded = WireLimits()
        unbounded.maxNameBytes = .max
        unbounded.maxTargetBytes = .max
        for length in [0, 1, 15, 16, 31, 32, 255, 256, 65_535, 65_536] {
            let text = String(repeating: "a", count: length)
            let bytes = Array(repeating: UInt8(length & 0xff), count: length)
            // One argument of each length (its bin header) among up to 20 (the
            // array's header): twenty of 64 KiB each would test nothing more
            // and cost the cooperative pool a second of a debug build's encoding.
            let arguments = length == 0 ? [] : [bytes] + Array(repeating: [UInt8(length & 0xff)], count: min(length, 20) - 1)
            let request = Envelope.request(CallRequest(
                id: UInt64(length), service: text, target: text, method: "m", timeout: .nanoseconds(length),
                arguments: arguments))
            #expect(try decoded(encoded(request), limits: unbounded) == request)
            await Task.yield()
        }
        for id: UInt64 in [0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, 0xffff_ffff, 0x1_0000_0000, .max] {
            let envelope = Envelope.cancel(id: id)
            #expect(try decoded(encoded(envelope)) == envelope)
        }
    }

    @Test func namesAndTargetsOverTheirLimitsAreProtocolErrors() throws {
        let limits = WireLimits()
        let cases: [(String, CallRequest)] = [
            ("service", CallRequest(id: 9, service: String(repeating: "s", count: limits.maxNameBytes + 1),
                                    target: "t", method: "m", timeout: .seconds(1))),
            ("actor", CallRequest(id: 9, service: "s", actor: String(repeating: "a", count: limits.maxNameBytes + 1),
                                  target: "t", method: "m", timeout: .seconds(1))),
            ("target", CallRequest(id: 9, service: "s", target: String(repeating: "t", count: limits.maxTargetBytes + 1),
                                   method: "m", timeout: .seconds(1))),
            ("method", CallRequest(id: 9, service: "s", target: "t",
                                   method: String(repeating: "m", count: limits.maxMethodBytes + 1), timeout: .seconds(1))),
        ]
        for (field, request) in cases {
            #expect(throws: WireError.self, "\(field) over its limit") {
                _ = try decoded(encoded(.request(request)), limits: limits)
            }
            do {
                _ = try decoded(encoded(.request(request)), limits: limits)
            } catch {
                #expect(error.id == 9 && error.code == .protocolError && error.message.contains(field))
            }
        }
        // At the limit, they pass.
        let atLimit = CallRequest(id: 9, service: String(repeating: "s", count: limits.maxNameBytes),
                                  target: String(repeating: "t", count: limits.maxTargetBytes),
                                  method: String(repeating: "m", count: limits.maxMethodBytes), timeout: .seconds(1))
        #expect(try decoded(encoded(.request(atLimit)), limits: limits) == .request(atLimit))
    }

    @Test func writesTheSmallestIntegerFormats() {
        #expect(encoded(.cancel(id: 0x7f)) == [0x93, 0x01, 0x04, 0x7f])
        #expect(encoded(.cancel(id: 0x80)) == [0x93, 0x01, 0x04, 0xcc, 0x80])
        #expect(encoded(.cancel(id: 0x100)) == [0x93, 0x01, 0x04, 0xcd, 0x01, 0x00])
        #expect(encoded(.cancel(id: 0x1_0000)) == [0x93, 0x01, 0x04, 0xce, 0x00, 0x01, 0x00, 0x00])
        #expect(encoded(.cancel(id: .max)) == [0x93, 0x01, 0x04, 0xcf] + Array(repeating: 0xff, count: 8))
        #expect(encoded(.ping(sequence: 3)) == [0x93, 0x01, 0x05, 0x03])
        #expect(encoded(.pong(sequence: 3, freeSlots: 200, incarnation: 9)) == [0x95, 0x01, 0x06, 0x03, 0xcc, 0xc8, 0x09])
        #expect(encoded(.draining(incarnation: 300)) == [0x94, 0x01, 0x07, 0x00, 0xcd, 0x01, 0x2c])
    }

    @Test func appendsAfterWhatTheBufferHolds() throws {
        var buffer: [UInt8] = [0xaa, 0xbb]
        WireCodec.encode(.ping(sequence: 1), into: &buffer)
        WireCodec.encode(.cancel(id: 2), into: &buffer)
        #expect(buffer == [0xaa, 0xbb, 0x93, 0x01, 0x05, 0x01, 0x93, 0x01, 0x04, 0x02])
    }

    @Test func timeoutTravelsAsWholeNanoseconds() throws {
        func timeout(after sending: Duration) throws -> Duration {
            let envelope = Envelope.request(CallRequest(id: 1, service: "s", target: "t", method: "m", timeout: sending))
            guard case .request(let request) = try decoded(encoded(envelope)) else { throw Unexpected() }
            return request.timeout
        }
        #expect(try timeout(after: .milliseconds(-5)) == .zero)
        #expect(try timeout(after: .seconds(-1) + .milliseconds(500)) == .zero)
        #expect(try timeout(after: .nanoseconds(1) / 2) == .zero)
        #expect(try timeout(after: .milliseconds(1500)) == .milliseconds(1500))
        #expect(try timeout(after: .seconds(3) + .nanoseconds(7)) == .seconds(3) + .nanoseconds(7))
        #expect(try timeout(after: .seconds(Int64.max)) == Duration(wireNanoseconds: .max))
        #expect(Duration(wireNanoseconds: .max).wireNanoseconds == .max)
    }

    @Test func reservedFlagBitsAreNeitherSentNorKept() throws {
        let sent = encoded(.request(CallRequest(
            id: 1, service: "s", target: "t", method: "m", timeout: .zero, flags: CallFlags(rawValue: 0xff))))
        #expect(sent[sent.count - 3] == 0x01)  // flags, before the empty metadata map and arguments array
        var fields = Self.validRequestFields
        fields[8] = .uint(0xffff_ffff_ffff)
        guard case .request(let request) = try decoded(pack(.array(fields))) else { throw Unexpected() }
        #expect(request.flags == [.idempotent])
    }

    @Test func unknownErrorCodesReadAsProtocolError() throws {
        for code: UInt64 in [0, 14, 255, 256, .max] {
            let frame = pack(.array([.uint(1), .uint(3), .uint(8), .uint(code), .str("boom"), .nil, .nil]))
            #expect(try decoded(frame) == .failure(id: 8, CallFailure(code: .protocolError, message: "boom")))
        }
    }

    @Test func acceptsAnyIntegerFormatHoldingTheValue() throws {
        let frame = pack(.array([.raw([0xcf, 0, 0, 0, 0, 0, 0, 0, 1]), .raw([0xd0, 0x04]), .raw([0xd3, 0, 0, 0, 0, 0, 0, 0, 9])]))
        #expect(try decoded(frame) == .cancel(id: 9))
    }

    // MARK: golden bytes (written out so the format cannot drift silently; cross-checked with Python's msgpack.packb)

    @Test func requestMatchesItsGoldenBytes() throws {
        let request = Envelope.request(CallRequest(
            id: 42, service: "greeter", actor: nil, target: Self.target, method: "Greeter.hello(name:times:)",
            timeout: .seconds(2), flags: [.idempotent],
            metadata: ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"],
            arguments: [[0xa3, 0x41, 0x64, 0x61], [0x03]]))
        let golden: [UInt8] =
            [0x9b, 0x01, 0x01, 0x2a]  // array of 11: version 1, kind 1 (request), id 42
            + [0xa7] + Array("greeter".utf8)  // service
            + [0xc0]  // actor: nil
            + [0xd9, 0x2d] + Array("$s3das7GreeterC5hello4name5timesS2S_SitYaKFTE".utf8)  // target (str8, 45)
            + [0xba] + Array("Greeter.hello(name:times:)".utf8)  // method (fixstr, 26)
            + [0xce, 0x77, 0x35, 0x94, 0x00]  // timeout: 2,000,000,000 ns
            + [0x01]  // flags: idempotent
            + [0x81, 0xab] + Array("traceparent".utf8)  // metadata: map of 1
            + [0xd9, 0x37] + Array("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".utf8)
            + [0x92, 0xc4, 0x04, 0xa3, 0x41, 0x64, 0x61, 0xc4, 0x01, 0x03]  // arguments: bin "Ada", bin 3
        #expect(golden.count == 173)
        #expect(encoded(request) == golden)
        #expect(try decoded(golden) == request)
    }

    @Test func replyMatchesItsGoldenBytes() throws {
        let reply = Envelope.reply(id: 42, result: [0xab] + Array("Hello, Ada!".utf8))
        let golden: [UInt8] = [0x94, 0x01, 0x02, 0x2a, 0xc4, 0x0c, 0xab] + Array("Hello, Ada!".utf8)
        #expect(encoded(reply) == golden)
        #expect(try decoded(golden) == reply)
        #expect(encoded(.reply(id: 42, result: nil)) == [0x94, 0x01, 0x02, 0x2a, 0xc0])
        #expect(encoded(.failure(id: 1, CallFailure(code: .overloaded, message: "full")))
            == [0x97, 0x01, 0x03, 0x01, 0x04, 0xa4, 0x66, 0x75, 0x6c, 0x6c, 0xc0, 0xc0])
    }

    // MARK: malformed frames

    /// A valid request `[1, 1, 42, "greeter", nil, "t", "m", 1000, 0, {}, [bin]]`, field by field.
    private static let validRequestFields: [Pack] = [
        .uint(1), .uint(1), .uint(42), .str("greeter"), .nil, .str("t"), .str("m"), .uint(1000), .uint(0),
        .map([]), .array([.bin([0x01])]),
    ]

    @Test func headerlessFramesAreProtocolErrorsWithoutAnId() {
        let frames: [[UInt8]] = [
            [], [0xc1], [0x01], [0xa3, 0x61, 0x62, 0x63], [0x80], [0x90], [0x92, 0x01, 0x01],
            [0x93, 0xa1, 0x31, 0x01, 0x01],  // version as str
            [0x93, 0x01, 0xc0, 0x01],  // kind nil
            [0x93, 0x01, 0x01, 0xff],  // id negative
            [0x93, 0x01, 0x01, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0],  // id float
            [0x93, 0x01, 0x01],  // ends before the id
            [0xdd, 0xff, 0xff, 0xff, 0xff, 0x01],  // array32 longer than the frame, ends in the header
        ]
        for frame in frames {
            expectFailure(frame, code: .protocolError, id: nil)
        }
    }

    @Test func wrongVersionNamesItAndKeepsTheId() {
        let error = expectFailure(pack(.array([.uint(2), .uint(1), .uint(77)])), code: .protocolError, id: 77)
        #expect(error?.message == "unsupported version 2; this node speaks 1")
        expectFailure(pack(.array([.uint(0), .uint(5), .uint(1)])), code: .protocolError, id: 1)
    }

    @Test func unknownKindsKeepTheId() {
        for kind: UInt64 in [0, 11, 255, .max] {
            let error = expectFailure(pack(.array([.uint(1), .uint(kind), .uint(9)])), code: .protocolError, id: 9)
            #expect(error?.message.contains("kind \(kind)") == true)
        }
    }

    @Test func missingAndExtraFieldsAreProtocolErrors() {
        let valid: [[Pack]] = [
            Self.validRequestFields,
            [.uint(1), .uint(2), .uint(42), .nil],
            [.uint(1), .uint(3), .uint(42), .uint(5), .str("m"), .nil, .nil],
            [.uint(1), .uint(4), .uint(42)],
            [.uint(1), .uint(5), .uint(42)],
            [.uint(1), .uint(6), .uint(42), .uint(3), .uint(7)],
            [.uint(1), .uint(7), .uint(42), .uint(7)],
        ]
        for fields in valid {
            #expect(throws: Never.self) { try decoded(pack(.array(fields))) }
            expectFailure(pack(.array(fields + [.nil])), code: .protocolError, id: 42)
            if fields.count > 3 {
                expectFailure(pack(.array(Array(fields.dropLast()))), code: .protocolError, id: 42)
            }
        }
    }

    @Test func wrongFieldTypesInARequestKeepTheId() {
        let wrong: [(index: Int, value: Pack)] = [
            (3, .nil), (3, .uint(1)), (3, .bin(Array("greeter".utf8))), (4, .uint(0)), (4, .array([])),
            (5, .nil), (5, .map([])), (6, .bin([])), (7, .str("1000")), (7, .int(-1)), (7, .raw([0xcb, 0, 0, 0, 0, 0, 0, 0, 0])),
            (8, .nil), (8, .raw([0xc3])), (9, .nil), (9, .array([])), (9, .map([(.uint(1), .str("v"))])),
            (9, .map([(.str("k"), .nil)])), (9, .map([(.str("k"), .bin([]))])), (10, .nil), (10, .map([])),
            (10, .array([.str("not bin")])), (10, .array([.bin([]), .nil])), (10, .array([.raw([0xc7, 0x01, 0x05, 0x00])])),
        ]
        for (index, value) in wrong {
            var fields = Self.validRequestFields
            fields[index] = value
            expectFailure(pack(.array(fields)), code: .protocolError, id: 42)
        }
    }

    @Test func wrongFieldTypesInOtherKindsKeepTheId() {
        let frames: [[Pack]] = [
            [.uint(1), .uint(2), .uint(42), .str("result")],
            [.uint(1), .uint(2), .uint(42), .array([])],
            [.uint(1), .uint(3), .uint(42), .str("5"), .str("m"), .nil, .nil],
            [.uint(1), .uint(3), .uint(42), .uint(5), .nil, .nil, .nil],
            [.uint(1), .uint(3), .uint(42), .uint(5), .str("m"), .bin([]), .nil],
            [.uint(1), .uint(3), .uint(42), .uint(5), .str("m"), .nil, .str("payload")],
            [.uint(1), .uint(6), .uint(42), .int(-3)],
            [.uint(1), .uint(6), .uint(42), .uint(0x1_0000_0000)],
        ]
        for fields in frames {
            expectFailure(pack(.array(fields)), code: .protocolError, id: 42)
        }
    }

    @Test func invalidUTF8IsAProtocolError() {
        for bad: [UInt8] in [[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc0, 0x80]] {
            var fields = Self.validRequestFields
            fields[3] = .raw([0xa0 | UInt8(bad.count)] + bad)
            let error = expectFailure(pack(.array(fields)), code: .protocolError, id: 42)
            #expect(error?.message.contains("UTF-8") == true)
        }
    }

    @Test func trailingBytesAreAProtocolError() {
        expectFailure(encoded(.ping(sequence: 4)) + [0x00], code: .protocolError, id: 4)
        expectFailure(encoded(.request(CallRequest(id: 5, service: "s", target: "t", method: "m", timeout: .zero))) + [0xc0], code: .protocolError, id: 5)
    }

    @Test func oversizedFramesAreTooLargeWithTheId() {
        var limits = WireLimits()
        limits.maxEnvelopeBytes = 64
        let big = encoded(.reply(id: 31, result: Array(repeating: 1, count: 100)))
        let error = expectFailure(big, limits: limits, code: .messageTooLarge, id: 31)
        #expect(error?.message.contains("64") == true)
        // Only the header is read: the rest may be anything.
        expectFailure(Array(big.prefix(4)) + Array(repeating: 0xc1, count: 100), limits: limits, code: .messageTooLarge, id: 31)
        // At the limit exactly, it is read.
        limits.maxEnvelopeBytes = big.count
        #expect(throws: Never.self) { try decoded(big, limits: limits) }
    }

    @Test func metadataOverItsLimitsIsAProtocolError() {
        var limits = WireLimits()
        limits.maxMetadataEntries = 2
        limits.maxMetadataFieldBytes = 8
        func frame(_ metadata: [(Pack, Pack)]) -> [UInt8] {
            var fields = Self.validRequestFields
            fields[9] = .map(metadata)
            return pack(.array(fields))
        }
        #expect(throws: Never.self) { try decoded(frame([(.str("12345678"), .str("12345678")), (.str(""), .str(""))]), limits: limits) }
        expectFailure(frame([(.str("a"), .str("1")), (.str("b"), .str("2")), (.str("c"), .str("3"))]), limits: limits, code: .protocolError, id: 42)
        expectFailure(frame([(.str("123456789"), .str("1"))]), limits: limits, code: .protocolError, id: 42)
        expectFailure(frame([(.str("k"), .str("123456789"))]), limits: limits, code: .protocolError, id: 42)
        expectFailure(frame([(.str("k"), .str("1")), (.str("k"), .str("2"))]), limits: limits, code: .protocolError, id: 42)
        // The defaults: 65 entries are one too many.
        let many = (0..<65).map { (Pack.str("k\($0)"), Pack.str("v")) }
        expectFailure(frame(many), code: .protocolError, id: 42)
    }

    @Test func tooManyArgumentsIsAProtocolError() {
        var fields = Self.validRequestFields
        fields[10] = .array(Array(repeating: .bin([]), count: 256))
        expectFailure(pack(.array(fields)), code: .protocolError, id: 42)
        fields[10] = .array(Array(repeating: .bin([]), count: 255))
        #expect(throws: Never.self) { try decoded(pack(.array(fields))) }
    }

    @Test func lengthsBeyondTheFrameAreProtocolErrors() {
        let huge: [Pack] = [
            .raw([0xdb, 0xff, 0xff, 0xff, 0xff]),  // str32
            .raw([0xc6, 0xff, 0xff, 0xff, 0xff]),  // bin32
            .raw([0xdd, 0xff, 0xff, 0xff, 0xff]),  // array32
            .raw([0xdf, 0xff, 0xff, 0xff, 0xff]),  // map32
        ]
        for value in huge {
            for index in [3, 9, 10] {
                var fields = Self.validRequestFields
                fields[index] = value
                expectFailure(pack(.array(fields)), code: .protocolError, id: 42)
            }
            var arguments = Self.validRequestFields
            arguments[10] = .array([value])
            expectFailure(pack(.array(arguments)), code: .protocolError, id: 42)
            expectFailure(pack(.array([.uint(1), .uint(2), .uint(42), value])), code: .protocolError, id: 42)
        }
    }

    @Test func nestingBombsAreProtocolErrors() {
        let depth = 100_000
        let arrays = [UInt8](repeating: 0x91, count: depth) + [0xc0]
        let maps = [UInt8](repeating: 0x81, count: depth) + [0xc0]
        for bomb in [arrays, maps] {
            for index in [3, 4, 7, 9, 10] {
                var fields = Self.validRequestFields
                fields[index] = .raw(bomb)
                expectFailure(pack(.array(fields)), code: .protocolError, id: 42)
            }
            var arguments = Self.validRequestFields
            arguments[10] = .array([.raw(bomb)])
            expectFailure(pack(.array(arguments)), code: .protocolError, id: 42)
            expectFailure(bomb, code: .protocolError, id: nil)
        }
        // Inside an argument's bin the bytes are opaque: the envelope is fine.
        var opaque = Self.validRequestFields
        opaque[10] = .array([.bin(arrays)])
        #expect(throws: Never.self) { try decoded(pack(.array(opaque))) }
    }

    @Test func everyTruncationOfARequestFailsWithTheIdOnceReadable() throws {
        let request = Envelope.request(CallRequest(
            id: 0x1234, service: "greeter", actor: "a1", target: Self.target, method: "Greeter.hello(name:times:)",
            timeout: .seconds(2), flags: [.idempotent], metadata: ["traceparent": "00-1-2-01", "k": "ü"],
            arguments: [[0xa3, 0x41, 0x64, 0x61], [], [0x03]]))
        let frame = encoded(request)
        let headerEnd = 6  // 0x9b, 1, 1, 0xcd 0x12 0x34
        for length in 0..<frame.count {
            expectFailure(Array(frame.prefix(length)), code: .protocolError, id: length >= headerEnd ? 0x1234 : nil)
        }
        #expect(try decoded(frame) == request)
    }

    @Test func randomBytesNeverDecodeIntoNonsense() async {
        var random = SplitMix64(seed: 0xC0A7)
        for iteration in 0..<2_000 {
            if iteration % 200 == 0 { await Task.yield() }
            let frame = (0..<random.next(below: 48)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            do {
                let envelope = try decoded(frame)
                #expect(encoded(envelope).count <= frame.count)
            } catch {
                #expect(error.code == .protocolError)
                if frame.first.map({ !(0x90...0x9f).contains($0) && $0 != 0xdc && $0 != 0xdd }) ?? true {
                    #expect(error.id == nil)
                }
            }
        }
    }

    /// Async so that it yields now and then: 20,000 decodes would otherwise
    /// hold a thread of the cooperative pool for the whole run.
    @Test func mutatedEnvelopesNeverCrash() async {
        var random = SplitMix64(seed: 2026)
        let seeds = Self.envelopes.filter { encoded($0).count < 2_000 }.map(encoded)
        var limits = WireLimits()
        limits.maxEnvelopeBytes = 1_500
        var decodedCount = 0
        for iteration in 0..<20_000 {
            if iteration % 200 == 0 { await Task.yield() }
            var frame = seeds[random.next(below: seeds.count)]
            for _ in 0...random.next(below: 4) {
                switch random.next(below: 5) {
                case 0 where !frame.isEmpty:
                    frame[random.next(below: frame.count)] = UInt8(truncatingIfNeeded: random.next())
                case 1 where !frame.isEmpty:
                    frame[random.next(below: frame.count)] ^= 1 << UInt8(random.next(below: 8))
                case 2:
                    frame.insert(UInt8(truncatingIfNeeded: random.next()), at: random.next(below: frame.count + 1))
                case 3 where !frame.isEmpty:
                    frame.remove(at: random.next(below: frame.count))
                default:
                    frame.removeLast(random.next(below: frame.count + 1) / 4)
                }
            }
            do {
                let envelope = try decoded(frame, limits: limits)
                decodedCount += 1
                #expect(try decoded(encoded(envelope), limits: WireLimits()) == envelope)
            } catch {
                #expect(error.code == .protocolError || error.code == .messageTooLarge)
            }
        }
        #expect(decodedCount > 0)
    }
}

// MARK: helpers

private struct Unexpected: Error {}

private func encoded(_ envelope: Envelope) -> [UInt8] {
    var buffer: [UInt8] = []
    WireCodec.encode(envelope, into: &buffer)
    return buffer
}

private func decoded(_ frame: [UInt8], limits: WireLimits = WireLimits()) throws(WireError) -> Envelope {
    try frame.withUnsafeBytes { bytes in
        Result { () throws(WireError) in try WireCodec.decode(bytes, limits: limits) }
    }.get()
}

@discardableResult
private func expectFailure(
    _ frame: [UInt8], limits: WireLimits = WireLimits(), code: RemoteCallError.Code, id: UInt64?,
    sourceLocation: SourceLocation = #_sourceLocation
) -> WireError? {
    do {
        let envelope = try decoded(frame, limits: limits)
        Issue.record("decoded \(envelope), expected a \(code) error", sourceLocation: sourceLocation)
        return nil
    } catch {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.id == id, "\(error)", sourceLocation: sourceLocation)
        return error
    }
}

/// A MessagePack value for building frames by hand, independent of `WireWriter`.
private enum Pack: Sendable {
    case uint(UInt64)
    case int(Int64)
    case str(String)
    case bin([UInt8])
    case `nil`
    case array([Pack])
    case map([(Pack, Pack)])
    /// Bytes written as they are.
    case raw([UInt8])
}

private func pack(_ value: Pack) -> [UInt8] {
    func be(_ value: UInt64, _ bytes: Int) -> [UInt8] {
        (0..<bytes).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }
    func header(_ count: Int, fix: UInt8, fixMax: Int, _ b8: UInt8?, _ b16: UInt8, _ b32: UInt8) -> [UInt8] {
        if count <= fixMax { return [fix | UInt8(count)] }
        if let b8, count <= 0xff { return [b8, UInt8(count)] }
        if count <= 0xffff { return [b16] + be(UInt64(count), 2) }
        return [b32] + be(UInt64(count), 4)
    }
    switch value {
    case .uint(let value):
        if value <= 0x7f { return [UInt8(value)] }
        if value <= 0xff { return [0xcc, UInt8(value)] }
        if value <= 0xffff { return [0xcd] + be(value, 2) }
        if value <= 0xffff_ffff { return [0xce] + be(value, 4) }
        return [0xcf] + be(value, 8)
    case .int(let value):
        return [0xd3] + be(UInt64(bitPattern: value), 8)
    case .str(let string):
        let utf8 = Array(string.utf8)
        return header(utf8.count, fix: 0xa0, fixMax: 31, 0xd9, 0xda, 0xdb) + utf8
    case .bin(let bytes):
        return header(bytes.count, fix: 0, fixMax: -1, 0xc4, 0xc5, 0xc6) + bytes
    case .nil:
        return [0xc0]
    case .array(let elements):
        return header(elements.count, fix: 0x90, fixMax: 15, nil, 0xdc, 0xdd) + elements.flatMap(pack)
    case .map(let entries):
        return header(entries.count, fix: 0x80, fixMax: 15, nil, 0xde, 0xdf) + entries.flatMap { pack($0.0) + pack($0.1) }
    case .raw(let bytes):
        return bytes
    }
}

/// A small seeded generator, so every run fuzzes the same frames.
private struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    mutating func next(below bound: Int) -> Int { bound <= 0 ? 0 : Int(next() % UInt64(bound)) }
}

extension UInt64 {
    fileprivate var asInt64Clamped: Int64 { Int64(clamping: self) }
}
