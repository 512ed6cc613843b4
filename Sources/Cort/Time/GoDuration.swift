/// Go's duration text, which Consul uses for every duration it reads (`10s`, `1m30s`,
/// `500ms`, `1.5h`): parsed for cort's configuration (the environment, files) and
/// for configuration that follows Consul's conventions.
package enum GoDuration {
    /// Go's `time.ParseDuration`: an optional sign, then one or more decimal numbers each
    /// with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`), e.g. `1h2m3.5s`; a bare `0` is
    /// zero. `nil` for anything Go rejects (a bare number like `10`, an unknown unit, an
    /// empty text) or a duration beyond Go's range (about 292 years).
    package static func parse(_ text: String) -> Duration? {
        var rest = Substring(text)
        var negative = false
        if let sign = rest.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            rest = rest.dropFirst()
        }
        if rest == "0" { return .zero }
        guard !rest.isEmpty else { return nil }
        var total: UInt64 = 0
        while !rest.isEmpty {
            let whole = rest.prefix { $0.isASCII && $0.isNumber }
            rest = rest.dropFirst(whole.count)
            var fraction: Substring = ""
            if rest.first == "." {
                rest = rest.dropFirst()
                fraction = rest.prefix { $0.isASCII && $0.isNumber }
                rest = rest.dropFirst(fraction.count)
            }
            guard !whole.isEmpty || !fraction.isEmpty else { return nil }
            let unit = rest.prefix { !($0.isASCII && ($0.isNumber || $0 == ".")) }
            rest = rest.dropFirst(unit.count)
            guard let scale = unitNanoseconds[String(unit)] else { return nil }
            guard let part = nanoseconds(whole: whole, fraction: fraction, scale: scale) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(part)
            guard !overflow else { return nil }
            total = sum
        }
        guard total <= UInt64(Int64.max) else { return nil }
        let duration = Duration.nanoseconds(Int64(total))
        return negative ? .zero - duration : duration
    }

    /// `whole.fraction` units of `scale` nanoseconds, or nil on overflow.
    private static func nanoseconds(whole: Substring, fraction: Substring, scale: UInt64) -> UInt64? {
        var value: UInt64 = 0
        for digit in whole {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(UInt64(digit.wholeNumberValue ?? 0))
            guard !o1, !o2 else { return nil }
            value = plus
        }
        let (scaled, overflow) = value.multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        // The fraction's digits beyond nanoseconds do not matter.
        var fractional: UInt64 = 0
        var divisor: UInt64 = 1
        for digit in fraction.prefix(18) {
            fractional = fractional * 10 + UInt64(digit.wholeNumberValue ?? 0)
            divisor *= 10
        }
        // fractional < divisor, so the quotient is below `scale` and cannot overflow.
        let part = divisor.dividingFullWidth(fractional.multipliedFullWidth(by: scale)).quotient
        let (sum, o3) = scaled.addingReportingOverflow(part)
        return o3 ? nil : sum
    }

    private static let unitNanoseconds: [String: UInt64] = [
        "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
        "m": 60_000_000_000, "h": 3_600_000_000_000,
    ]
}
