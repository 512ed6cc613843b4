import Testing
@testable import Cort

/// `readableMethodName(fromMangled:)`, on distributed thunk identifiers that
/// swiftc 6.3 emitted for a module `das` (read from the library with `nm`).
@Suite struct WireMethodNameTests {
    @Test(arguments: [
        ("$s3das7GreeterC5hello4name5timesS2S_SitYaKFTE", "Greeter.hello(name:times:)"),
        ("$s3das7GreeterC4pingyyYaKFTE", "Greeter.ping()"),
        ("$s3das7GreeterC3addyS2i_SitYaKFTE", "Greeter.add(_:_:)"),
        ("$s3das7GreeterC6lookup_3keySiSgSDySSSiG_SStYaKFTE", "Greeter.lookup(_:key:)"),
        ("$s3das7GreeterC5apply5point5scaleSayAA5PointVGAH_SdtYaKFTE", "Greeter.apply(point:scale:)"),
        ("$s3das7GreeterC4echoyxxYaKSeRzSERzlFTE", "Greeter.echo(_:)"),
        ("$s3das5OuterO5InnerC2go3forySi_tYaKFTE", "Outer.Inner.go(for:)"),
        ("$s3das7GreeterC5countSiyYaKFTE", "Greeter.count()"),
    ])
    func demanglesDistributedTargets(identifier: String, expected: String) {
        #expect(readableMethodName(fromMangled: identifier) == expected)
    }

    @Test(arguments: ["", "hello", "$s", "$sXYZ", "Greeter.hello(name:)", "$s3das7GreeterC"])
    func fallsBackToTheIdentifier(identifier: String) {
        #expect(readableMethodName(fromMangled: identifier) == identifier)
    }

    @Test func readsDemangledTextWithNestedTypes() {
        let text =
            "distributed thunk das.Box<A>.run(body: (Swift.Int) -> [Swift.String : (a: Swift.Int, b: Swift.Int)], _: Swift.Int) async throws -> ()"
        #expect(methodName(fromDemangled: text) == "Box.run(body:_:)")
        #expect(methodName(fromDemangled: "(extension in lib):das.Greeter.hi(to: Swift.String) -> ()") == "Greeter.hi(to:)")
        #expect(methodName(fromDemangled: "distributed thunk das.Greeter.count.getter : Swift.Int") == "Greeter.count")
        #expect(methodName(fromDemangled: "das.Greeter.broken(name: Swift.String") == nil)
        #expect(methodName(fromDemangled: "Swift.Int") == nil)
    }
}
