import CortMessagePack
import Distributed

/// Catches what a method run on this node returned or threw, as the bytes
/// of a reply or the error to answer with.
public final class CortResultHandler: DistributedTargetInvocationResultHandler {
    public typealias SerializationRequirement = Codable

    /// What the method did.
    enum Outcome {
        case returned([UInt8]?)
        /// The runtime handed over an error: the method's own, or one of the
        /// runtime's (no such target, an argument that did not decode); the
        /// node tells them apart (see `CortSystem.execute`).
        case threw(any Error)
        /// The method returned a value that could not be encoded.
        case unencodable(CallFailure)
    }

    private(set) var outcome: Outcome?

    init() {}

    public func onReturn<Success: Codable>(value: Success) async throws {
        do {
            outcome = .returned(try MessagePackEncoder().encode(value))
        } catch {
            outcome = .unencodable(CallFailure(
                code: .remoteApplicationError,
                message: "the result (\(Success.self)) could not be encoded: \(error)"))
        }
    }

    public func onReturnVoid() async throws {
        outcome = .returned(nil)
    }

    public func onThrow<Err: Error>(error: Err) async throws {
        outcome = .threw(error)
    }
}
