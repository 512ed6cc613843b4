extension Duration {
    /// The duration as Go's `time.ParseDuration` reads it: `10s` for whole seconds, else
    /// whole milliseconds (`1500ms`), rounded up so a positive duration never becomes `0ms`.
    package var goDuration: String {
        let (seconds, attoseconds) = components
        if attoseconds == 0 { return "\(seconds)s" }
        return "\(milliseconds)ms"
    }
}
