@testable import CortTesting
import Testing

@Suite("GoDuration")
struct GoDurationTests {
    @Test(arguments: [
        ("30s", Duration.seconds(30)), ("60000ms", .seconds(60)), ("1m30s", .seconds(90)), ("1.5h", .seconds(5400)),
        ("0", .zero), ("-2ms", .milliseconds(-2)), ("10us", .microseconds(10)), ("250ns", .nanoseconds(250)),
    ])
    func parsesWhatGoParses(text: String, expected: Duration) {
        #expect(GoDuration.parse(text) == expected)
    }

    @Test(arguments: ["30", "", "s", "1x", "1.2.3s", "--1s", "1s2"])
    func rejectsWhatGoRejects(text: String) {
        #expect(GoDuration.parse(text) == nil)
    }
}
