import CortMessagePack
import Distributed

/// Runs a known distributed target without the runtime's per-call work of
/// reading its types from its mangled name.
///
/// `executeDistributedTarget` demangles a target's generic environment,
/// parameter count, parameter types and return type on every call (a fifth
/// of a node's CPU per call, profiled at 64 calls in flight). For a
/// non-generic target the node has run once, that answer never changes: it
/// is read once here and kept, and each later call goes straight to the
/// runtime's own entry point (`swift_distributed_execute_target`, the one
/// `executeDistributedTarget` ends in), with the same decoder, so the
/// arguments are decoded exactly as before. Generic targets, and a target
/// whose types cannot be read, keep the standard path.
///
/// ```swift
/// if let dispatch = DirectDispatch(target: identifier) {
///     let result = try await dispatch.execute(on: actor, decoder: &decoder)   // MessagePack bytes or nil
/// }
/// ```
final class DirectDispatch: Sendable {
    /// The target's identifier in UTF-8, allocated as long as this lives.
    private nonisolated(unsafe) let name: UnsafeMutableBufferPointer<UInt8>
    private let nameLength: UInt
    /// The parameters' types, in order, as the runtime reads them.
    private nonisolated(unsafe) let argumentTypes: UnsafeMutableBufferPointer<any Any.Type>
    /// The result's type; nil for `Void`. (A metatype: immutable, safe to share.)
    private nonisolated(unsafe) let result: (any Encodable.Type)?
    /// The size and alignment of the result's buffer.
    private let resultSize: Int
    private let resultAlignment: Int

    /// Reads `target`'s types once; nil for a generic target, or one whose
    /// types the runtime cannot read (or whose result is not `Encodable`).
    init?(target: String) {
        let name = ContiguousArray(target.utf8)
        let length = UInt(name.count)
        let environment = name.withUnsafeBufferPointer {
            _getGenericEnvironmentOfDistributedTarget($0.baseAddress!, length)
        }
        guard environment == nil else { return nil }
        let count = name.withUnsafeBufferPointer { __getParameterCount($0.baseAddress!, length) }
        guard count >= 0 else { return nil }
        let types = UnsafeMutableBufferPointer<any Any.Type>.allocate(capacity: max(Int(count), 1))
        let decoded = name.withUnsafeBufferPointer {
            _cortParameterTypeInfo($0.baseAddress!, length, nil, nil, UnsafeMutableRawPointer(types.baseAddress!),
                                   Int(count))
        }
        guard decoded == count,
              let returned = name.withUnsafeBufferPointer({ __getReturnTypeInfo($0.baseAddress!, length, nil, nil) })
        else {
            types.deallocate()
            return nil
        }
        if returned == Void.self {
            result = nil
            (resultSize, resultAlignment) = (0, 1)
        } else {
            guard let encodable = returned as? any Encodable.Type else {
                types.deallocate()
                return nil
            }
            result = encodable
            (resultSize, resultAlignment) = Self.layout(of: encodable)
        }
        argumentTypes = types
        let stored = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(name.count, 1))
        _ = stored.initialize(from: name)
        self.name = stored
        nameLength = length
    }

    deinit {
        argumentTypes.deallocate()
        name.deallocate()
    }

    private static func layout<R: Encodable>(of type: R.Type) -> (Int, Int) {
        (MemoryLayout<R>.size, MemoryLayout<R>.alignment)
    }

    /// Runs the target on `actor`, its arguments read by `decoder`: the
    /// result's MessagePack bytes, or nil for `Void`. Throws what the method
    /// threw, or what the runtime refused (an `ExecuteDistributedTargetError`).
    @inline(__always)
    nonisolated(nonsending) func execute<D: DistributedTargetInvocationDecoder & Sendable>(
        on actor: some DistributedActor, decoder: inout D
    ) async throws -> [UInt8]? {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(resultSize, 1), alignment: resultAlignment)
        defer { buffer.deallocate() }
        try await _cortExecuteDistributedTarget(
            on: actor, UnsafePointer(name.baseAddress!), nameLength, argumentDecoder: &decoder,
            argumentTypes: UnsafeMutableRawPointer(argumentTypes.baseAddress!), resultBuffer: buffer,
            substitutions: nil, witnessTables: nil, numWitnessTables: 0)
        guard let result else { return nil }
        return try Self.encode(result, movingFrom: buffer)
    }

    /// Moves the result out of `buffer` (it returned, so it is there) and encodes it.
    private static func encode<R: Encodable>(_ type: R.Type, movingFrom buffer: UnsafeMutableRawPointer) throws
        -> [UInt8] {
        let value = buffer.assumingMemoryBound(to: R.self).move()
        do {
            return try MessagePackEncoder().encode(value)
        } catch {
            throw UnencodableResult(type: "\(R.self)", error: error)
        }
    }

    /// The method returned a value the encoder refused.
    struct UnencodableResult: Error {
        let type: String
        let error: any Error
    }
}

/// The runtime's entry point that runs a distributed target (exported by
/// libswiftDistributed; `executeDistributedTarget` ends in it). Declared as
/// the Distributed module declares it.
@_silgen_name("swift_distributed_execute_target")
private func _cortExecuteDistributedTarget<D: DistributedTargetInvocationDecoder>(
    on actor: AnyObject,
    _ targetName: UnsafePointer<UInt8>, _ targetNameLength: UInt,
    argumentDecoder: inout D,
    argumentTypes: UnsafeMutableRawPointer,
    resultBuffer: UnsafeMutableRawPointer,
    substitutions: UnsafeRawPointer?,
    witnessTables: UnsafeRawPointer?,
    numWitnessTables: UInt
) async throws

/// `__getParameterTypeInfo` with a plain pointer for its buffer (the
/// Distributed module declares it with `Builtin.RawPointer`).
@_silgen_name("swift_func_getParameterTypeInfo")
private func _cortParameterTypeInfo(
    _ typeNameStart: UnsafePointer<UInt8>, _ typeNameLength: UInt,
    _ genericEnv: UnsafeRawPointer?, _ genericArguments: UnsafeRawPointer?,
    _ types: UnsafeMutableRawPointer, _ typesLength: Int
) -> Int32
