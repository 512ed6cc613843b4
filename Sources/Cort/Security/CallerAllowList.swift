@_exported import struct CortZeroMQ.CurveKey
@_exported import struct CortZeroMQ.CurveKeyPair
import Synchronization

/// The public keys of the callers a CURVE node lets connect: its ZAP
/// handler checks every connecting caller against it, and the node checks
/// every request against it, so a key taken out loses access on its
/// connections too.
///
/// Keys given in code can be replaced at run time; a list read from a file
/// (one key a line, see ``init(contentsOfFile:)``) is re-read when the file
/// changes or the process gets `SIGHUP`, while a node serves with it.
///
/// ```swift
/// let allowed = CallerAllowList([try CurveKey(z85: "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID")])
/// let security = Security.curve(keyPair: nodeKeys, allowedCallers: allowed)
/// ```
public final class CallerAllowList: Sendable {
    struct State {
        var keys: Set<CurveKey>
        /// Where the keys come from, for a list read from a file.
        var file: FileIdentity?
    }

    let state: Mutex<State>
    private let changes = Atomic<UInt64>(0)
    /// The file the keys are read from, or nil for keys given in code.
    public let path: String?

    /// An allow-list of `keys`.
    public init(_ keys: some Sequence<CurveKey>) {
        state = Mutex(State(keys: Set(keys), file: nil))
        path = nil
    }

    init(keys: Set<CurveKey>, path: String, file: FileIdentity?) {
        state = Mutex(State(keys: keys, file: file))
        self.path = path
    }

    /// The keys allowed now.
    public var keys: Set<CurveKey> { state.withLock { $0.keys } }

    /// Whether `key` is allowed now.
    public func contains(_ key: CurveKey) -> Bool {
        state.withLock { $0.keys.contains(key) }
    }

    /// Replaces the keys (new connections and requests are checked against them at once).
    public func replace(with keys: some Sequence<CurveKey>) {
        let keys = Set(keys)
        state.withLock { $0.keys = keys }
        changes.add(1, ordering: .releasing)
    }

    /// A number that changes whenever the keys do: a node rechecks a
    /// caller it already checked only when it moved.
    var generation: UInt64 { changes.load(ordering: .acquiring) }

    func noteChanged() { changes.add(1, ordering: .releasing) }
}

/// What identifies a file's contents cheaply: a rewrite in place or a
/// rename over it changes one of these.
struct FileIdentity: Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedNanoseconds: Int64
}
