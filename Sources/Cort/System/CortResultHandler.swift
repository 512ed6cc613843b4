import CortMessagePack
import Distributed

/// Catches what a method run on this node returned or threw, as the bytes
/// of a reply or an error answer.
public final class CortResultHandler: DistributedTargetInvocationResultHandler {
    public typealias SerializationRequirement = Codable

    /// What the method did.
    enum Outcome {
        case returned([UInt8]?)
        case failed(CallFailure)
    }

    private let errors: ErrorRegistry
    private(set) var outcome: Outcome?

    init(errors: ErrorRegistry) {
        self.errors = errors
    }

    public func onReturn<Success: Codable>(value: Success) async throws {
        do {
            outcome = .returned(try MessagePackEncoder().encode(value))
        } catch {
            outcome = .failed(CallFailure(
                code: .remoteApplicationError,
                message: "the result (\(Success.self)) could not be encoded: \(error)",
                errorType: nil, errorPayload: nil))
        }
    }

    public func onReturnVoid() async throws {
        outcome = .returned(nil)
    }

    public func onThrow<Err: Error>(error: Err) async throws {
        outcome = .failed(errors.failure(for: error))
    }
}
