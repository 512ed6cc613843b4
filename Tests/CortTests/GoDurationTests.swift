import Testing
@testable import Cort

/// Go's duration text, read and written as Consul does.
@Suite struct GoDurationTests {
    @Test(arguments: [
        ("10s", Duration.seconds(10)), ("1m30s", .seconds(90)), ("500ms", .milliseconds(500)),
        ("1.5h", .seconds(5400)), ("2h45m", .seconds(9900)), ("0", .zero), ("1us", .microseconds(1)),
        ("1µs", .microseconds(1)), ("7ns", .nanoseconds(7)), (".5s", .milliseconds(500)), ("1.s", .seconds(1)),
        ("-2ms", .milliseconds(-2)), ("+3s", .seconds(3)), ("0.000000001s", .nanoseconds(1)),
    ])
    func goDurationsParse(text: String, expected: Duration) {
        #expect(GoDuration.parse(text) == expected)
    }

    @Test(arguments: ["", "10", "s", "1x", "1 s", "1.2.3s", ".s", "--1s", "1s2", "3000000h", "10S"])
    func whatGoRefusesIsRefused(text: String) {
        #expect(GoDuration.parse(text) == nil)
    }

    @Test func durationsAreWrittenSoGoReadsThemBack() {
        for duration in [Duration.seconds(10), .milliseconds(1500), .seconds(90)] {
            #expect(GoDuration.parse(duration.goDuration) == duration)
        }
        #expect(Duration.microseconds(1).goDuration == "1ms")
    }
}
