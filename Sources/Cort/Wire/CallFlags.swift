/// Per-call options carried in a request's `flags` field.
///
/// Bit 0 is `idempotent`; the other bits are reserved: they are sent as 0 and
/// ignored when read, so a newer peer's extra bits never fail a call.
///
/// ```swift
/// let flags: CallFlags = [.idempotent]
/// ```
package struct CallFlags: OptionSet, Sendable, Hashable {
    package var rawValue: UInt32

    package init(rawValue: UInt32) { self.rawValue = rawValue }

    /// The call may run more than once with the same effect, so the caller may
    /// move it to another node after a transport failure.
    package static let idempotent = CallFlags(rawValue: 1 << 0)

    /// Every flag this version knows; the others are dropped on the wire.
    package static let known: CallFlags = [.idempotent]
}
