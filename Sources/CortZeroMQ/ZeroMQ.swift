internal import CZeroMQ

/// Facts about the libzmq this process is linked against.
///
/// ```swift
/// guard ZeroMQ.hasCurve else { fatalError("libzmq built without CURVE") }
/// print(ZeroMQ.version) // (major: 4, minor: 3, patch: 4)
/// ```
public enum ZeroMQ {
    /// Whether libzmq supports CURVE encryption (`zmq_has("curve")`).
    public static var hasCurve: Bool { zmq_has("curve") != 0 }

    /// The libzmq version (`zmq_version`).
    public static var version: (major: Int, minor: Int, patch: Int) {
        var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return (Int(major), Int(minor), Int(patch))
    }
}
