import Synchronization

/// One spare coder object (an encoding stream or a decoding session) kept
/// between calls, so that a call usually allocates neither the object nor its
/// buffers. All encoders (and all decoders) of the process share one.
///
/// The slot holds a +1 reference as a bit pattern. `take()` exchanges it for
/// 0, so exactly one caller gets the object and owns it alone; concurrent
/// callers find the slot empty and make their own. `put` is only given an
/// object that `isKnownUniquelyReferenced` proved nobody else holds (no
/// `Encoder`/`Decoder` kept alive by a misbehaving `encode(to:)`/`init(from:)`),
/// and it is reset before its next use. So the non-Sendable object is only
/// ever reachable from one thread at a time: handing it over through the
/// atomic is a transfer, never sharing.
final class MessagePackCoderCache<Object: AnyObject>: Sendable {
    private let slot = Atomic<UInt>(0)

    init() {}

    deinit {
        _ = take()
    }

    /// The spare object, now owned by the caller alone, or nil.
    @inline(__always)
    func take() -> Object? {
        let bits = slot.exchange(0, ordering: .acquiring)
        guard bits != 0, let pointer = UnsafeRawPointer(bitPattern: bits) else { return nil }
        return Unmanaged<Object>.fromOpaque(pointer).takeRetainedValue()
    }

    /// Keeps `object` as the spare; the caller must hold its only reference
    /// and drop it afterwards.
    @inline(__always)
    func put(_ object: Object) {
        let bits = UInt(bitPattern: Unmanaged.passRetained(object).toOpaque())
        let previous = slot.exchange(bits, ordering: .acquiringAndReleasing)
        if previous != 0, let pointer = UnsafeRawPointer(bitPattern: previous) {
            Unmanaged<Object>.fromOpaque(pointer).release()
        }
    }
}
