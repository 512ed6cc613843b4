import CortMessagePack
import Distributed

/// Reads a call's arguments, in order, for the node that runs it.
public struct CortInvocationDecoder: DistributedTargetInvocationDecoder {
    public typealias SerializationRequirement = Codable

    private let arguments: [[UInt8]]
    private let decoder: MessagePackDecoder
    private(set) var decodedCount = 0

    init(arguments: [[UInt8]], system: CortSystem) {
        self.arguments = arguments
        var decoder = MessagePackDecoder()
        // Actor references among the arguments resolve through this system.
        decoder.userInfo[.actorSystemKey] = system
        self.decoder = decoder
    }

    public mutating func decodeGenericSubstitutions() throws -> [Any.Type] { [] }

    public mutating func decodeNextArgument<Argument: Codable>() throws -> Argument {
        let index = decodedCount
        guard index < arguments.count else {
            throw RemoteCallError(.badArguments, "argument \(index + 1) is missing (the request has \(arguments.count))")
        }
        decodedCount += 1
        do {
            return try decoder.decode(Argument.self, from: arguments[index])
        } catch {
            throw RemoteCallError(.badArguments, "argument \(index + 1) is not a \(Argument.self)", cause: error)
        }
    }

    public mutating func decodeErrorType() throws -> Any.Type? { nil }

    public mutating func decodeReturnType() throws -> Any.Type? { nil }
}
