#if ConsulAgentDouble
/// Go's `time.ParseDuration`, which is how Consul reads `?wait=` and the
/// durations in a check (`"10s"`, `"1m30s"`, `"1.5h"`, `"-2ms"`).
///
/// A bare number other than `0` is an error, as in Go ("missing unit").
enum GoDuration {
    /// The parsed duration, or `nil` when Go would reject the text.
    static func parse(_ text: String) -> Duration? {
        var scalars = Substring(text)
        var negative = false
        if let first = scalars.first, first == "-" || first == "+" {
            negative = first == "-"
            scalars = scalars.dropFirst()
        }
        if scalars == "0" { return .zero }
        guard !scalars.isEmpty else { return nil }
        var total: Double = 0
        while !scalars.isEmpty {
            let number = scalars.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", number.filter({ $0 == "." }).count <= 1,
                  let value = Double(number.hasPrefix(".") ? "0" + number : String(number))
            else { return nil }
            scalars = scalars.dropFirst(number.count)
            let unit = scalars.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            guard let nanoseconds = unitNanoseconds[String(unit)] else { return nil }
            scalars = scalars.dropFirst(unit.count)
            total += value * nanoseconds
        }
        // Go's limit is the range of an Int64 count of nanoseconds.
        guard total < 9.2e18 else { return nil }
        let duration = Duration.nanoseconds(Int64(total.rounded()))
        return negative ? .zero - duration : duration
    }

    private static let unitNanoseconds: [String: Double] = [
        "ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9,
    ]
}

#endif
