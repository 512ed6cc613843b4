import CortMessagePack
import Distributed

/// Reads a call's arguments, in order, for the node that runs it.
public struct CortInvocationDecoder: DistributedTargetInvocationDecoder, Sendable {
    public typealias SerializationRequirement = Codable

    private let arguments: [[UInt8]]
    private let decoder: MessagePackDecoder
    private(set) var decodedCount = 0
    /// Why an argument could not be read. The runtime hands the error to the
    /// result handler as if the method had thrown it; this says it did not:
    /// arguments are read before the method runs.
    private(set) var failure: RemoteCallError?

    /// `decoder`: one whose `userInfo` holds the system, so actor
    /// references among the arguments resolve through it (see
    /// ``CortSystem/argumentDecoder()``).
    init(arguments: [[UInt8]], decoder: MessagePackDecoder) {
        self.arguments = arguments
        self.decoder = decoder
    }

    public mutating func decodeGenericSubstitutions() throws -> [Any.Type] { [] }

    public mutating func decodeNextArgument<Argument: Codable>() throws -> Argument {
        try nextArgument()
    }

    /// The next argument, as ``decodeNextArgument()`` reads it, for the
    /// dispatch `@CortService` writes. (The runtime calls that one without
    /// its conformances, which it then looks up on every call: two look-ups,
    /// about 900 instructions, callgrind.)
    public mutating func nextArgument<Argument: Decodable>() throws -> Argument {
        let index = decodedCount
        guard index < arguments.count else {
            let error = RemoteCallError(.badArguments, "argument \(index + 1) is missing (the request has \(arguments.count))")
            failure = error
            throw error
        }
        decodedCount += 1
        do {
            return try decoder.decode(Argument.self, from: arguments[index])
        } catch {
            let error = RemoteCallError(.badArguments, "argument \(index + 1) is not a \(Argument.self)", cause: error)
            failure = error
            throw error
        }
    }

    public mutating func decodeErrorType() throws -> Any.Type? { nil }

    public mutating func decodeReturnType() throws -> Any.Type? { nil }
}
