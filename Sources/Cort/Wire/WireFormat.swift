/// The envelope's own constants. Its MessagePack format bytes are
/// `MessagePackFormat`'s, shared with the codec.
package enum WireFormat {
    /// `package`: CortConsul's registrations carry it (`cort_protocol`), so callers skip
    /// nodes that speak another version.
    package static let version: UInt64 = 1

    /// The envelope kinds, by their number on the wire.
    enum Kind: UInt64 {
        case request = 1
        case reply = 2
        case error = 3
        case cancel = 4
        case ping = 5
        case pong = 6
        case draining = 7
        case describe = 8
        case description = 9
        /// Several envelopes in one frame (see ``WireBatch``).
        case batch = 10

        /// How many elements the kind's array has, header included.
        var fieldCount: Int {
            switch self {
            case .request: 11
            case .reply: 4
            case .error: 7
            case .cancel: 3
            case .ping: 3
            case .pong: 5
            case .draining: 4
            case .describe: 3
            case .description: 4
            case .batch: 4
            }
        }
    }
}

extension Duration {
    /// The duration as whole nanoseconds for the wire: negative is 0, too long is `UInt64.max`.
    var wireNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        let fraction = attoseconds / 1_000_000_000
        if seconds < 0 { return 0 }
        if seconds == 0 { return fraction > 0 ? UInt64(fraction) : 0 }
        let (whole, overflow) = UInt64(seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        if fraction >= 0 {
            let (sum, carry) = whole.addingReportingOverflow(UInt64(fraction))
            return carry ? .max : sum
        }
        return whole - UInt64(-fraction)
    }

    /// A duration of `nanoseconds` read off the wire (any `UInt64` fits).
    init(wireNanoseconds nanoseconds: UInt64) {
        self.init(
            secondsComponent: Int64(nanoseconds / 1_000_000_000),
            attosecondsComponent: Int64(nanoseconds % 1_000_000_000) * 1_000_000_000)
    }
}
