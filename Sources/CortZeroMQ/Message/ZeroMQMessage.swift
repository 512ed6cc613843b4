internal import CZeroMQ
import Synchronization

/// A multipart ZeroMQ message: an ordered list of frames, each a libzmq `zmq_msg_t`.
///
/// Built to avoid copies:
/// - The frames live in one contiguous buffer of `zmq_msg_t` (one allocation for
///   the usual one-to-four frame message; it grows by doubling beyond that).
///   A `zmq_msg_t` may be moved bitwise: libzmq keeps no pointer into the
///   struct itself (small "VSM" payloads are addressed from the struct on each
///   access, large ones through a pointer to separately allocated content), and
///   libzmq itself moves messages by plain assignment (its pipes store
///   `msg_t` values; `zmq_msg_move` is a copy plus re-init). So growing the
///   buffer moves frames with `memcpy`, and the frame storage can move with the
///   message between tasks.
/// - Received frames are read in place with ``withFrame(at:_:)``.
/// - ``append(noCopy:)`` hands an owned `[UInt8]` to libzmq without copying
///   the payload; libzmq releases the array when it is done with it.
///
/// The type is `~Copyable`: exactly one owner, so a frame is closed exactly once
/// (in `deinit`, or handed to libzmq by a successful send). That unique
/// ownership is also why it is `Sendable`: moving a message to another task
/// moves the only reference to its frames, and libzmq allows a `zmq_msg_t` to
/// be used from any thread as long as no two threads use it at once (the
/// reference count of shared content is atomic).
///
/// ```swift
/// var request = ZeroMQMessage()
/// request.append(Array("hello".utf8))
/// request.append(noCopy: payload)          // payload: [UInt8], not copied
/// try await socket.send(request)           // `request` is consumed
///
/// var reply = try await socket.receive()
/// let sender = reply.removeFirst()         // a ROUTER's routing id frame
/// let size = reply.withFrame(at: 0) { $0.count }
/// ```
public struct ZeroMQMessage: ~Copyable {
    private var storage: UnsafeMutablePointer<zmq_msg_t>?
    private var capacity: Int
    private var start: Int
    private var end: Int

    /// An empty message (no frames); allocates nothing.
    public init() {
        storage = nil
        capacity = 0
        start = 0
        end = 0
    }

    /// An empty message with room for `frameCapacity` frames in one allocation.
    public init(frameCapacity: Int) {
        self.init()
        if frameCapacity > 0 { reserve(frameCapacity, headroom: 0) }
    }

    /// A message whose frames are copies of `frames`, allocated once.
    public init(_ frames: [[UInt8]]) {
        self.init(frameCapacity: frames.count)
        for frame in frames { append(frame) }
    }

    /// A message with one frame copied from `bytes`.
    public init(copying bytes: UnsafeRawBufferPointer) {
        self.init(frameCapacity: 1)
        append(copying: bytes)
    }

    deinit {
        guard let storage else { return }
        for index in start..<end { zmq_msg_close(storage + index) }
        Self.recycle(storage, capacity: capacity)
    }

    /// The number of frames.
    public var count: Int { end - start }

    /// Whether the message has no frames.
    public var isEmpty: Bool { end == start }

    // MARK: Building

    /// Appends a frame holding a copy of `bytes`.
    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append(copying: $0) }
    }

    /// Appends a frame holding a copy of the UTF-8 bytes of `text`.
    public mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(copying: UnsafeRawBufferPointer($0)) }
    }

    /// Appends a frame holding a copy of `bytes`.
    public mutating func append(copying bytes: UnsafeRawBufferPointer) {
        let frame = appendUninitializedFrame()
        Self.initialize(frame, copying: bytes)
    }

    /// Appends `bytes` as a frame without copying the payload.
    ///
    /// The array is kept alive in a box whose retained pointer is libzmq's free
    /// hint; libzmq's free callback (run on whichever thread drops the last
    /// reference, often a libzmq I/O thread) releases it. Payloads of 32 bytes
    /// or fewer are copied instead: libzmq stores those inside the `zmq_msg_t`,
    /// which is cheaper than the bookkeeping for shared content.
    public mutating func append(noCopy bytes: [UInt8]) {
        guard bytes.count > Self.inlineLimit else {
            append(bytes)
            return
        }
        let frame = appendUninitializedFrame()
        let box = ByteBox(bytes)
        // A native array's storage does not move while the array is alive and
        // unmutated; the box keeps it alive and never mutates it.
        let base = box.bytes.withUnsafeBufferPointer { UnsafeMutableRawPointer(mutating: $0.baseAddress!) }
        let hint = Unmanaged.passRetained(box).toOpaque()
        let result = zmq_msg_init_data(frame, base, bytes.count, { _, hint in
            Unmanaged<ByteBox>.fromOpaque(hint!).release()
        }, hint)
        if result != 0 {
            // Only fails on allocation failure; fall back to a copy.
            Unmanaged<ByteBox>.fromOpaque(hint).release()
            box.bytes.withUnsafeBytes { Self.initialize(frame, copying: $0) }
        }
    }

    /// Appends `bytes` as a frame without copying the payload, and counts its
    /// size in `ledger` until libzmq releases it (once it has been written to
    /// the connection, or dropped with the connection).
    ///
    /// A sender that must bound what waits in libzmq for one slow peer (the
    /// high-water mark counts messages, not bytes) checks
    /// ``SendLedger/outstanding`` before it sends. Payloads of 32 bytes or
    /// fewer are copied into the frame and not counted: libzmq stores them
    /// inside the `zmq_msg_t`, bounded by the high-water mark alone.
    public mutating func append(noCopy bytes: [UInt8], countedIn ledger: SendLedger) {
        guard bytes.count > Self.inlineLimit else {
            append(bytes)
            return
        }
        let frame = appendUninitializedFrame()
        let box = ByteBox(bytes, ledger: ledger)
        let base = box.bytes.withUnsafeBufferPointer { UnsafeMutableRawPointer(mutating: $0.baseAddress!) }
        ledger.add(bytes.count)
        let hint = Unmanaged.passRetained(box).toOpaque()
        let result = zmq_msg_init_data(frame, base, bytes.count, { _, hint in
            let box = Unmanaged<ByteBox>.fromOpaque(hint!).takeRetainedValue()
            box.ledger?.remove(box.bytes.count)
        }, hint)
        if result != 0 {
            Unmanaged<ByteBox>.fromOpaque(hint).release()
            ledger.remove(bytes.count)
            box.bytes.withUnsafeBytes { Self.initialize(frame, copying: $0) }
        }
    }

    /// Inserts a frame holding a copy of `bytes` before the first frame, e.g. a
    /// routing id before replying on a ROUTER. Reuses the slot freed by
    /// ``removeFirst()`` when there is one, so pop-then-prepend does not allocate.
    public mutating func prepend(_ bytes: [UInt8]) {
        if start == 0 {
            reserve(Swift.max(4, count * 2), headroom: 1)
        }
        start -= 1
        bytes.withUnsafeBytes { Self.initialize(storage! + start, copying: $0) }
    }

    // MARK: Reading

    /// Calls `body` with the bytes of frame `index`, without copying.
    ///
    /// The buffer is valid only inside `body`.
    /// - Precondition: `index` is in `0..<count`.
    public func withFrame<R, E: Error>(at index: Int, _ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let frame = pointer(at: index)
        let size = zmq_msg_size(frame)
        return try body(UnsafeRawBufferPointer(start: size == 0 ? nil : zmq_msg_data(frame), count: size))
    }

    /// A copy of the bytes of frame `index`.
    /// - Precondition: `index` is in `0..<count`.
    public func frame(at index: Int) -> [UInt8] {
        withFrame(at: index) { Array($0) }
    }

    /// The file descriptor of the connection frame `index` arrived on
    /// (`ZMQ_SRCFD`), or nil for a frame that did not come off a connection.
    ///
    /// A socket monitor names connections by the same descriptor
    /// (``ZeroMQSocket/MonitorEvents/accepted``, ``ZeroMQSocket/MonitorEvents/disconnected``),
    /// so a bound ROUTER can tell which peer a dropped connection carried.
    /// Descriptors are reused once closed: pair them with the monitor's
    /// accept and disconnect events to tell one connection from the next.
    /// - Precondition: `index` is in `0..<count`.
    public func sourceDescriptor(at index: Int) -> Int32? {
        let descriptor = zmq_msg_get(pointer(at: index), ZMQ_SRCFD)
        return descriptor >= 0 ? descriptor : nil
    }

    /// Calls `body` with the bytes of a metadata property of the connection
    /// frame `index` arrived on (`zmq_msg_gets`), or nil when it has none.
    ///
    /// `"User-Id"` is what the ZAP handler said of the peer when it let it
    /// connect (with CURVE, cort's handler names the client's public key);
    /// `"Peer-Address"` is its IP address. The buffer is valid only inside `body`.
    /// - Precondition: `index` is in `0..<count`.
    public func withProperty<R>(_ name: String, at index: Int, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
        guard let value = zmq_msg_gets(pointer(at: index), name) else { return body(nil) }
        var length = 0
        while value[length] != 0 { length += 1 }
        return body(UnsafeRawBufferPointer(start: value, count: length))
    }

    /// The size in bytes of frame `index`.
    /// - Precondition: `index` is in `0..<count`.
    public func frameSize(at index: Int) -> Int {
        zmq_msg_size(pointer(at: index))
    }

    /// Copies of all frames, in order.
    public func copyFrames() -> [[UInt8]] {
        (0..<count).map { frame(at: $0) }
    }

    /// Removes the first frame and returns a copy of it (a ROUTER's routing id).
    /// - Precondition: the message is not empty.
    public mutating func removeFirst() -> [UInt8] {
        precondition(!isEmpty, "removeFirst() on an empty ZeroMQMessage")
        let bytes = frame(at: 0)
        zmq_msg_close(storage! + start)
        start += 1
        if start == end { start = 0; end = 0 }
        return bytes
    }

    /// Closes every frame and keeps the frame buffer for reuse.
    public mutating func removeAll() {
        guard let storage else { return }
        for index in start..<end { zmq_msg_close(storage + index) }
        start = 0
        end = 0
    }

    // MARK: Internal access for the socket

    /// The `zmq_msg_t` of frame `index`; valid until the message next grows.
    func pointer(at index: Int) -> UnsafeMutablePointer<zmq_msg_t> {
        precondition(index >= 0 && index < count, "frame index \(index) out of range 0..<\(count)")
        return storage! + (start + index)
    }

    /// Appends an empty, initialized frame (for `zmq_msg_recv` to fill).
    mutating func appendEmptyFrame() -> UnsafeMutablePointer<zmq_msg_t> {
        let frame = appendUninitializedFrame()
        zmq_msg_init(frame)
        return frame
    }

    /// Appends `frame` by a bitwise move; `frame` must not be closed afterwards.
    mutating func appendMoving(_ frame: inout zmq_msg_t) {
        appendUninitializedFrame().initialize(to: frame)
    }

    // MARK: Storage

    private static let inlineLimit = 32

    private static func initialize(_ frame: UnsafeMutablePointer<zmq_msg_t>, copying bytes: UnsafeRawBufferPointer) {
        // zmq_msg_init_size fails only when malloc does.
        guard zmq_msg_init_size(frame, bytes.count) == 0 else {
            fatalError("zmq_msg_init_size(\(bytes.count)) failed: out of memory")
        }
        if let source = bytes.baseAddress, bytes.count > 0 {
            zmq_msg_data(frame).copyMemory(from: source, byteCount: bytes.count)
        }
    }

    private mutating func appendUninitializedFrame() -> UnsafeMutablePointer<zmq_msg_t> {
        if end == capacity {
            reserve(Swift.max(4, count * 2), headroom: 0)
        }
        end += 1
        return storage! + (end - 1)
    }

    /// Moves the frames into a new buffer of `newCapacity` slots (at least
    /// `count + headroom`), `headroom` empty slots before the first frame.
    private mutating func reserve(_ newCapacity: Int, headroom: Int) {
        let frameCount = count
        // Never fewer slots than a spare buffer has, so every small message's buffer can be one.
        let newCapacity = Swift.max(newCapacity, frameCount + headroom + 1, Self.spareCapacity)
        let newStorage = (newCapacity == Self.spareCapacity ? Self.takeSpare() : nil)
            ?? .allocate(capacity: newCapacity)
        if let storage {
            // Bitwise move: see the type's documentation for why it is safe.
            (newStorage + headroom).moveInitialize(from: storage + start, count: frameCount)
            Self.recycle(storage, capacity: capacity)
        }
        storage = newStorage
        capacity = newCapacity
        start = headroom
        end = headroom + frameCount
    }
}

extension ZeroMQMessage {
    /// The frame capacity of a spare buffer: the usual message has one to four frames.
    static let spareCapacity = 4

    /// One frame buffer kept between messages (a bit pattern of its
    /// address; 0 when none), so that a message usually allocates nothing
    /// for its frames: a node or a caller makes two messages a call, one in
    /// and one out, mostly on one thread. Taking it exchanges it for 0, so
    /// one message at a time owns it.
    private static let spare = Atomic<UInt>(0)

    /// The spare buffer, now the caller's alone, or nil.
    @inline(__always)
    static func takeSpare() -> UnsafeMutablePointer<zmq_msg_t>? {
        let bits = spare.exchange(0, ordering: .acquiring)
        return UnsafeMutablePointer(bitPattern: bits)
    }

    /// Keeps `storage` (its frames closed or moved out) as the spare, or frees it.
    @inline(__always)
    static func recycle(_ storage: UnsafeMutablePointer<zmq_msg_t>, capacity: Int) {
        guard capacity == spareCapacity else { return storage.deallocate() }
        let previous = spare.exchange(UInt(bitPattern: storage), ordering: .acquiringAndReleasing)
        UnsafeMutablePointer<zmq_msg_t>(bitPattern: previous)?.deallocate()
    }
}

// Unique ownership (the type is ~Copyable) means the frames have one owner at a
// time; libzmq allows a zmq_msg_t to be used from any thread when not used
// concurrently, and its shared-content reference counts are atomic.
extension ZeroMQMessage: @unchecked Sendable {}

/// Keeps a zero-copy payload alive until libzmq's free callback releases it.
private final class ByteBox {
    let bytes: [UInt8]
    let ledger: SendLedger?
    init(_ bytes: [UInt8], ledger: SendLedger? = nil) {
        self.bytes = bytes
        self.ledger = ledger
    }
}
