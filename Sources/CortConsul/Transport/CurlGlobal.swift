internal import CCurl

/// libcurl's process-wide initialisation, done once before the first handle is made.
///
/// `curl_global_init` is not thread-safe in curl 7.88; a Swift global is initialised
/// exactly once, atomically, on first use, which gives the "once" for free.
enum CurlGlobal {
    private static let initialized: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    /// Initialises libcurl if nobody has yet; `false` when libcurl refused.
    static func ensureInitialized() -> Bool { initialized }
}
