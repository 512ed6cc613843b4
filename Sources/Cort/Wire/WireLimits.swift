/// How much a node or caller accepts in one envelope.
///
/// ```swift
/// var limits = WireLimits()
/// limits.maxEnvelopeBytes = 1 << 20
/// ```
package struct WireLimits: Sendable, Equatable {
    /// The largest envelope frame, in bytes (default 4 MiB). A larger one is
    /// answered with `messageTooLarge` after reading only its header.
    package var maxEnvelopeBytes: Int = 4 << 20
    /// The most metadata entries in a request (default 64).
    package var maxMetadataEntries: Int = 64
    /// The longest metadata key or value, in UTF-8 bytes (default 4 KiB).
    package var maxMetadataFieldBytes: Int = 4096
    /// The most arguments in a request (default 255, more than any Swift
    /// method can usefully take; it bounds the work a hostile frame can ask for).
    package var maxArguments: Int = 255
    /// The longest service name or actor instance id in a request, in UTF-8
    /// bytes (default 256).
    package var maxNameBytes: Int = 256
    /// The longest target (a mangled method name) in a request, in UTF-8
    /// bytes (default 4 KiB, far beyond any real method's): a node demangles
    /// it, so its length bounds that work.
    package var maxTargetBytes: Int = 4096
    /// The longest readable method name in a request (default 1 KiB).
    package var maxMethodBytes: Int = 1024
    /// The largest message libzmq accepts at all (`ZMQ_MAXMSGSIZE`, default
    /// 64 MiB): above it the peer is dropped before cort sees the message, so
    /// between `maxEnvelopeBytes` and this cap a node still answers with an error.
    package var hardMessageCap: Int = 64 << 20
    /// The most envelopes in one batch frame (64): a reader answers a larger
    /// batch's calls with `protocolError`, and bounds the work of one frame.
    package var maxBatchEntries: Int = 64

    package init() {}

    /// The limits for a system whose messages may have up to `maxMessageBytes`.
    package init(maxMessageBytes: Int) {
        maxEnvelopeBytes = maxMessageBytes
        // Room above the limit, so an envelope just over it is still read
        // (its header) and answered with `messageTooLarge`.
        hardMessageCap = max(maxMessageBytes * 2, maxMessageBytes + (1 << 20))
    }
}
