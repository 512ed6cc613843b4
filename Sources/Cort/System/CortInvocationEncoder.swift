import CortMessagePack
import Distributed

/// Records a call's arguments as MessagePack, one buffer per argument.
public struct CortInvocationEncoder: DistributedTargetInvocationEncoder {
    public typealias SerializationRequirement = Codable

    var arguments: [[UInt8]] = []
    private var genericSubstitutions = 0
    private let encoder = MessagePackEncoder()

    init() {}

    /// Generic distributed methods are not supported yet: their calls fail
    /// with ``RemoteCallError/Code/unknownTarget`` before anything is sent.
    public mutating func recordGenericSubstitution<T>(_ type: T.Type) throws {
        genericSubstitutions += 1
    }

    // Inlinable, so that the distributed thunk (compiled in the service's
    // module, where `Value` is known) calls `record` with the value and its
    // conformance. The thunk calls this requirement of
    // `DistributedTargetInvocationEncoder` without `Value`'s conformances,
    // which a body here then looked up on every call (two look-ups, about
    // 600 instructions, callgrind, the caller at 64 calls in flight; see
    // ``CortInvocationDecoder/nextArgument()``), and reading `value` out of a
    // `RemoteCallArgument<Value>` of unknown `Value` looked up its metadata
    // (about 330 more).
    @inlinable
    public mutating func recordArgument<Value: Codable>(_ argument: RemoteCallArgument<Value>) throws {
        do {
            try record(argument.value)
        } catch {
            throw Self.unencodable(argument.effectiveLabel, cause: error)
        }
    }

    /// Encodes an argument (see ``recordArgument(_:)``).
    @usableFromInline
    mutating func record<Value: Encodable>(_ value: Value) throws {
        arguments.append(try encoder.encode(value))
    }

    /// The error of an argument that could not be encoded.
    @usableFromInline
    static func unencodable(_ label: String, cause: any Error) -> RemoteCallError {
        RemoteCallError(.badArguments, "argument '\(label)' could not be encoded", cause: cause)
    }

    public mutating func recordErrorType<E: Error>(_ type: E.Type) throws {}

    public mutating func recordReturnType<R: Codable>(_ type: R.Type) throws {}

    public mutating func doneRecording() throws {
        if genericSubstitutions > 0 {
            throw RemoteCallError(.unknownTarget, "generic distributed methods are not supported by cort yet")
        }
    }
}
