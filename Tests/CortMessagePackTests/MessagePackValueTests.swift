import Foundation
import Testing
@testable import CortMessagePack

struct MessagePackValueTests {
    let encoder = MessagePackEncoder()
    let decoder = MessagePackDecoder()

    /// What `cort call` sees of a result: the encoder's bytes, read back as a value.
    func read<T: Encodable>(_ value: T) throws -> MessagePackValue {
        try MessagePackValue(messagePack: encoder.encode(value))
    }

    /// What a method sees of a JSON argument: JSON to a value, to bytes, to `T`.
    func argument<T: Decodable>(_ type: T.Type, json: String) throws -> T {
        try decoder.decode(type, from: MessagePackValue(json: json).messagePack())
    }

    func readError(_ hex: String) -> MessagePackError? {
        readError(Hex.bytes(hex))
    }

    func readError(_ bytes: [UInt8]) -> MessagePackError? {
        #expect(throws: MessagePackError.self) { try MessagePackValue(messagePack: bytes) }
    }

    func pair(_ key: String, _ value: MessagePackValue) -> MessagePackValue.Pair {
        MessagePackValue.Pair(key: .string(key), value: value)
    }

    // MARK: MessagePack

    @Test func roundTripsEveryKindThroughBytes() throws {
        let long = String(repeating: "x", count: 70_000)
        let values: [MessagePackValue] = [
            .nil, .bool(true), .bool(false),
            .int(0), .int(127), .int(128), .int(-1), .int(-32), .int(-33), .int(-129), .int(-40_000),
            .int(Int64.min), .int(Int64.max), .uint(UInt64(Int64.max) + 1), .uint(.max),
            .double(2.5), .double(-0.0), .double(.infinity), .float(1.5), .float(-.infinity),
            .string(""), .string("héllo"), .string(String(repeating: "a", count: 31)),
            .string(String(repeating: "b", count: 32)), .string(String(repeating: "c", count: 256)), .string(long),
            .binary([]), .binary([0, 255]), .binary(Array(repeating: 7, count: 300)),
            .binary(Array(repeating: 9, count: 70_000)),
            .array([]), .array((0..<16).map { .int($0) }), .array((0..<70_000).map { .int($0 % 100) }),
            .map([]), .map([pair("b", .int(1)), pair("a", .nil)]),
            .map((0..<17).map { MessagePackValue.Pair(key: .int($0), value: .string("\($0)")) }),
            .map([MessagePackValue.Pair(key: .array([.bool(true)]), value: .map([]))]),
            .extension(type: 1, data: [1]), .extension(type: 2, data: [1, 2]), .extension(type: 3, data: [1, 2, 3]),
            .extension(type: -1, data: [0, 0, 0, 1]), .extension(type: 5, data: Array(repeating: 1, count: 8)),
            .extension(type: 6, data: Array(repeating: 2, count: 16)), .extension(type: 7, data: []),
            .extension(type: 8, data: Array(repeating: 3, count: 300)),
            .extension(type: 9, data: Array(repeating: 4, count: 70_000)),
            .array([.map([pair("deep", .array([.array([.extension(type: 0, data: [1])])]))]), .nil]),
        ]
        for value in values {
            #expect(try MessagePackValue(messagePack: value.messagePack()) == value)
        }
        // NaN equals nothing, so compare its bits.
        let nan = try MessagePackValue(messagePack: MessagePackValue.double(.nan).messagePack())
        guard case .double(let double) = nan else { Issue.record("not a double: \(nan)"); return }
        #expect(double.isNaN)
    }

    @Test func writesTheSmallestFormats() throws {
        #expect(Hex.string(MessagePackValue.int(5).messagePack()) == "05")
        #expect(Hex.string(MessagePackValue.uint(5).messagePack()) == "05")
        #expect(Hex.string(MessagePackValue.int(200).messagePack()) == "ccc8")
        #expect(Hex.string(MessagePackValue.int(-33).messagePack()) == "d0df")
        #expect(Hex.string(MessagePackValue.int(-40_000).messagePack()) == "d2ffff63c0")
        #expect(Hex.string(MessagePackValue.float(1.5).messagePack()) == "ca3fc00000")
        #expect(Hex.string(MessagePackValue.double(1.5).messagePack()) == "cb3ff8000000000000")
        #expect(Hex.string(MessagePackValue.string("a").messagePack()) == "a161")
        #expect(Hex.string(MessagePackValue.binary([1]).messagePack()) == "c40101")
        #expect(Hex.string(MessagePackValue.extension(type: 1, data: [1, 2, 3, 4]).messagePack()) == "d60101020304")
        #expect(Hex.string(MessagePackValue.extension(type: -2, data: [1, 2, 3]).messagePack()) == "c703fe010203")
        #expect(Hex.string(MessagePackValue.map([pair("b", .nil), pair("a", .bool(true))]).messagePack())
            == "82a162c0a161c3")
        #expect(MessagePackValue.array((0..<16).map { _ in .nil }).messagePack().prefix(3) == [0xdc, 0x00, 0x10])
        // The same bytes the encoder writes for the same Swift values.
        #expect(MessagePackValue.int(-7).messagePack() == (try encoder.encode(-7)))
        #expect(MessagePackValue.uint(.max).messagePack() == (try encoder.encode(UInt64.max)))
        #expect(MessagePackValue.string(String(repeating: "s", count: 300)).messagePack()
            == (try encoder.encode(String(repeating: "s", count: 300))))
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(try read(date).messagePack() == (try encoder.encode(date)))
    }

    @Test func integersAreEqualByValueWhicheverCaseHoldsThem() throws {
        #expect(MessagePackValue.uint(5) == .int(5))
        #expect(MessagePackValue.int(-1) != .uint(UInt64.max))
        #expect(MessagePackValue.int(5) != .double(5))
        #expect(MessagePackValue.float(1.5) != .double(1.5))
        #expect(Set<MessagePackValue>([.int(5), .uint(5), .int(-5)]).count == 2)
        #expect(try MessagePackValue(messagePack: [0xcf, 0, 0, 0, 0, 0, 0, 0, 5]) == .int(5))
        #expect(try MessagePackValue(messagePack: Hex.bytes("cfffffffffffffffff")) == .uint(.max))
        // A reading never holds a .uint that fits Int64.
        guard case .int = try MessagePackValue(messagePack: [0xcc, 0xc8]) else {
            Issue.record("uint8 200 was not read as .int")
            return
        }
    }

    @Test func readsWhatTheEncoderWritesForSwiftValues() throws {
        struct Person: Codable { var name: String; var age: Int; var tags: [String] }
        enum Color: String, Codable { case red, green }
        #expect(try read("Ada") == .string("Ada"))
        #expect(try read(42) == .int(42))
        #expect(try read(-42) == .int(-42))
        #expect(try read(Int.min) == .int(Int64.min))
        #expect(try read(2.5) == .double(2.5))
        #expect(try read(Float(0.25)) == .float(0.25))
        #expect(try read(true) == .bool(true))
        #expect(try read(["a", "b"]) == .array([.string("a"), .string("b")]))
        #expect(try read(Optional<Int>.none) == .nil)
        #expect(try read(Optional(3)) == .int(3))
        #expect(try read(Person(name: "Ada", age: 36, tags: ["x"]))
            == .map([pair("name", .string("Ada")), pair("age", .int(36)), pair("tags", .array([.string("x")]))]))
        #expect(try read([UInt8]([1, 2, 3])) == .binary([1, 2, 3]))
        #expect(try read(Data([4, 5])) == .binary([4, 5]))
        #expect(try read(Color.green) == .string("green"))
        #expect(try read([[1, 2], [], [3]]) == .array([.array([.int(1), .int(2)]), .array([]), .array([.int(3)])]))
        #expect(try read(["k": ["v": [true]]])
            == .map([pair("k", .map([pair("v", .array([.bool(true)]))]))]))
        #expect(try read([7: "seven"]) == .map([MessagePackValue.Pair(key: .int(7), value: .string("seven"))]))
        #expect(try read(Date(timeIntervalSince1970: 1)) == .extension(type: -1, data: [0, 0, 0, 1]))
    }

    @Test func readsFromAnyCollectionOfBytes() throws {
        let bytes = Hex.bytes("92a161c3")
        let expected = MessagePackValue.array([.string("a"), .bool(true)])
        #expect(try MessagePackValue(messagePack: bytes) == expected)
        #expect(try MessagePackValue(messagePack: bytes[...]) == expected)
        #expect(try MessagePackValue(messagePack: Data(bytes)) == expected)
        // Not contiguous: read through a copy.
        #expect(try MessagePackValue(messagePack: bytes.lazy.map { $0 }) == expected)
        // A slice that does not start at index 0.
        #expect(try MessagePackValue(messagePack: ([0xff] + bytes)[1...]) == expected)
    }

    @Test func malformedInputThrowsAndNamesTheProblem() throws {
        #expect(readError([])?.code == .truncated)
        // fixstr of 5 with 2 bytes.
        #expect(readError("a56162")?.code == .lengthExceedsInput)
        // str8 header cut off, and str8 of 200 with 1 byte.
        #expect(readError("d9")?.code == .truncated)
        #expect(readError("d9c861")?.code == .lengthExceedsInput)
        // str32 of 4 GiB in 5 bytes: refused before any allocation.
        #expect(readError("dbffffffff")?.code == .lengthExceedsInput)
        #expect(readError("c6ffffffff00")?.code == .lengthExceedsInput)
        #expect(readError("ddffffffff")?.code == .lengthExceedsInput)
        #expect(readError("dfffffffff")?.code == .lengthExceedsInput)
        #expect(readError("c9ffffffff01")?.code == .lengthExceedsInput)
        #expect(readError("d701")?.code == .lengthExceedsInput)
        // Invalid UTF-8: a lone continuation byte, an overlong "/", a surrogate.
        #expect(readError("a180")?.code == .invalidUTF8)
        #expect(readError("a2c0af")?.code == .invalidUTF8)
        #expect(readError("a3eda080")?.code == .invalidUTF8)
        #expect(readError("c1")?.code == .reservedByte)
        #expect(readError("cd01")?.code == .truncated)
        #expect(readError("cb3ff0")?.code == .truncated)
        // An array that promises more elements than follow.
        #expect(readError("93c0c0")?.code == .lengthExceedsInput)
        #expect(readError("82a161c0a162")?.code == .truncated)
        let trailing = readError("c0c0")
        #expect(trailing?.code == .trailingBytes)
        #expect(trailing?.offset == 1)
        // 10,000 nested arrays: stopped at maxDepth, not by the stack.
        let deep = [UInt8](repeating: 0x91, count: 10_000) + [0xc0]
        let tooDeep = readError(deep)
        #expect(tooDeep?.code == .tooDeep)
        #expect(tooDeep?.offset == 512)
        #expect(try MessagePackValue(messagePack: [UInt8](repeating: 0x91, count: 512) + [0xc0]) != .nil)
        #expect(readError([0x81, 0x91, 0x91, 0xc0, 0xc0], maxDepth: 2)?.code == .tooDeep)
        let message = try #require(readError("a180"))
        #expect(message.description == "MessagePackError(invalidUTF8): String is not valid UTF-8 at byte 0")
    }

    @Test func everyTruncationOfAValidInputThrows() throws {
        let value = MessagePackValue.map([
            pair("s", .string(String(repeating: "é", count: 40))), pair("b", .binary(Array(repeating: 1, count: 300))),
            pair("a", .array([.int(-70_000), .uint(.max), .double(0.5), .float(2), .nil, .bool(true)])),
            pair("e", .extension(type: 3, data: [1, 2, 3])), pair("t", .extension(type: -1, data: [0, 0, 0, 1])),
            pair("m", .map([MessagePackValue.Pair(key: .int(1), value: .array([.map([])]))])),
        ])
        let bytes = value.messagePack()
        #expect(try MessagePackValue(messagePack: bytes) == value)
        for length in 0..<bytes.count {
            let error = readError(Array(bytes.prefix(length)))
            #expect(error?.code == .truncated || error?.code == .lengthExceedsInput, "prefix \(length)")
        }
    }

    func readError(_ bytes: [UInt8], maxDepth: Int) -> MessagePackError? {
        #expect(throws: MessagePackError.self) { try MessagePackValue(messagePack: bytes, maxDepth: maxDepth) }
    }

    // MARK: JSON in

    @Test func jsonArgumentsDecodeAsTheSwiftTypesAMethodDeclares() throws {
        struct Person: Codable, Equatable { var name: String; var age: Int; var email: String? }
        #expect(try argument(String.self, json: #""Ada""#) == "Ada")
        #expect(try argument(Int.self, json: "42") == 42)
        #expect(try argument(Int.self, json: "-42") == -42)
        #expect(try argument(Double.self, json: "2") == 2)
        #expect(try argument(Double.self, json: "2.5") == 2.5)
        #expect(try argument(Double.self, json: "-0.125") == -0.125)
        #expect(try argument(Float.self, json: "2") == 2)
        #expect(try argument(Float.self, json: "0.1") == 0.1)
        #expect(try argument(Bool.self, json: "true") == true)
        #expect(try argument([Int].self, json: "[1, 2, 3]") == [1, 2, 3])
        #expect(try argument([String: Int].self, json: #"{"a": 1, "b": 2}"#) == ["a": 1, "b": 2])
        #expect(try argument(Person.self, json: #"{"name": "Ada", "age": 36}"#) == Person(name: "Ada", age: 36))
        #expect(try argument(Person.self, json: #"{"age": 36, "email": null, "name": "Ada"}"#)
            == Person(name: "Ada", age: 36))
        // Integers into floating-point fields and elements, too.
        struct Point: Codable, Equatable { var x: Double; var y: Float }
        #expect(try argument(Point.self, json: #"{"x": 2, "y": -3}"#) == Point(x: 2, y: -3))
        #expect(try argument([Double].self, json: "[1, 2.5, -3]") == [1, 2.5, -3])
        #expect(try argument(Int?.self, json: "null") == nil)
        #expect(try argument(Int?.self, json: "7") == 7)
        #expect(try argument(UInt64.self, json: "18446744073709551615") == .max)
        // The decoder does not turn a fraction into an integer.
        #expect(throws: DecodingError.self) { try argument(Int.self, json: "2.5") }
    }

    @Test func jsonValuesMapToMessagePackValues() throws {
        #expect(try MessagePackValue(json: "null") == .nil)
        #expect(try MessagePackValue(json: "false") == .bool(false))
        #expect(try MessagePackValue(json: "1") == .int(1))
        #expect(try MessagePackValue(json: "-9223372036854775808") == .int(.min))
        #expect(try MessagePackValue(json: "18446744073709551615") == .uint(.max))
        #expect(try MessagePackValue(json: "2.5") == .double(2.5))
        #expect(try MessagePackValue(json: "1e300") == .double(1e300))
        #expect(try MessagePackValue(json: "18446744073709551616") == .double(18446744073709551616))
        #expect(try MessagePackValue(json: #""a\nb\u00e9""#) == .string("a\nbé"))
        #expect(try MessagePackValue(json: "[]") == .array([]))
        #expect(try MessagePackValue(json: "{}") == .map([]))
        // Object keys are sorted, so the same JSON always gives the same bytes.
        let object = try MessagePackValue(json: #" {"b": [1, {"d": null, "c": "x"}], "a": true} "#)
        #expect(object == .map([
            pair("a", .bool(true)),
            pair("b", .array([.int(1), .map([pair("c", .string("x")), pair("d", .nil)])])),
        ]))
        #expect(Hex.string(try MessagePackValue(json: #"{"name":"Ada","age":36}"#).messagePack())
            == "82a361676524a46e616d65a3416461")
    }

    @Test func badJSONThrowsAClearError() throws {
        for text in ["", "{", "[1, 2", #"{"a" 1}"#, "nul", "01x", "'a'", "[1] [2]"] {
            let error = #expect(throws: MessagePackError.self, "\(text)") { try MessagePackValue(json: text) }
            #expect(error?.code == .invalidValue)
            #expect(error?.message.hasPrefix("Invalid JSON") == true, "\(error?.message ?? "")")
        }
        #expect(#expect(throws: MessagePackError.self) { try MessagePackValue(json: " \n") }?.message
            == "Invalid JSON: the text is empty")
        let huge = #expect(throws: MessagePackError.self) { try MessagePackValue(json: #"{"x": [1, 1e400]}"#) }
        #expect(huge?.message == "JSON number at $.x[1] is outside the range of a Double")
        // Deep JSON is refused (by JSONDecoder or by the value's depth), not a crash.
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: (any Error).self) { try MessagePackValue(json: deep).messagePack() }
    }

    // MARK: JSON out

    @Test func resultsBecomeJSONText() throws {
        struct Person: Codable { var name: String }
        #expect(try read(Person(name: "Ada")).json() == #"{"name":"Ada"}"#)
        #expect(try read(["b": 2, "a": 1]).json() == #"{"a":1,"b":2}"#)
        #expect(try read("Ada").json() == #""Ada""#)
        #expect(try read(42).json() == "42")
        #expect(try read(-1).json() == "-1")
        #expect(try read(2.5).json() == "2.5")
        #expect(try read(Float(0.1)).json() == "0.1")
        #expect(try read(UInt64.max).json() == "18446744073709551615")
        #expect(try read(true).json() == "true")
        #expect(try read(Optional<String>.none).json() == "null")
        #expect(try read(["a/b", "é"]).json() == #"["a/b","é"]"#)
        #expect(try read([UInt8]([1, 2, 3])).json() == #""AQID""#)
        #expect(try read([3: "c", 1: "a"]).json() == #"{"1":"a","3":"c"}"#)
        #expect(try MessagePackValue.extension(type: 7, data: [0xff]).json() == #"{"data":"/w==","type":7}"#)
        #expect(try read(["k": [1, 2]]).json(pretty: true) == """
            {
              "k" : [
                1,
                2
              ]
            }
            """)
        // JSON → value → JSON keeps the meaning.
        let text = #"{"a":[1,-2,2.5,"x",null,true],"b":{"c":{}}}"#
        #expect(try MessagePackValue(json: text).json() == text)
    }

    @Test func valuesWithoutAJSONFormThrow() throws {
        let nan = #expect(throws: MessagePackError.self) {
            try MessagePackValue.map([pair("scores", .array([.double(1), .double(.nan)]))]).json()
        }
        #expect(nan?.code == .invalidValue)
        #expect(nan?.message == "JSON cannot hold the number nan at $.scores[1]")
        #expect(throws: MessagePackError.self) { try MessagePackValue.float(.infinity).json() }
        let key = #expect(throws: MessagePackError.self) {
            try MessagePackValue.map([MessagePackValue.Pair(key: .bool(true), value: .nil)]).json()
        }
        #expect(key?.message == "JSON cannot hold a map key of type boolean at $")
        let twice = #expect(throws: MessagePackError.self) {
            try MessagePackValue.map([
                MessagePackValue.Pair(key: .int(1), value: .nil), MessagePackValue.Pair(key: .string("1"), value: .nil),
            ]).json()
        }
        #expect(twice?.message.contains("appears twice") == true)
    }
}
