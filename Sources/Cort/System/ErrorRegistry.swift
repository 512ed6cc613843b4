import CortMessagePack
import Synchronization

/// The error types a system sends and rethrows as themselves.
///
/// Any other error thrown by a method arrives as
/// ``RemoteCallError/Code/remoteApplicationError`` carrying its type name and
/// description.
final class ErrorRegistry: Sendable {
    private struct Entry: Sendable {
        let encode: @Sendable (any Error) throws -> [UInt8]?
        let decode: @Sendable ([UInt8]) throws -> any Error
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// The name an error type travels under: module-qualified, stable while
    /// the module and type names are.
    static func name(of type: Any.Type) -> String {
        String(reflecting: type)
    }

    func register<E: Error & Codable & Sendable>(_ type: E.Type) {
        let entry = Entry(
            encode: { error in
                guard let typed = error as? E else { return nil }
                return try MessagePackEncoder().encode(typed)
            },
            decode: { bytes in try MessagePackDecoder().decode(E.self, from: bytes) }
        )
        entries.withLock { $0[Self.name(of: type)] = entry }
    }

    /// The answer for an error thrown by a method.
    func failure(for error: any Error) -> CallFailure {
        if let remote = error as? RemoteCallError {
            // A call the method made itself failed: pass the code through.
            return CallFailure(code: remote.code, message: remote.message, errorType: nil, errorPayload: nil)
        }
        let name = Self.name(of: type(of: error))
        if let entry = entries.withLock({ $0[name] }), let payload = try? entry.encode(error) {
            return CallFailure(code: .remoteApplicationError, message: "\(name): \(error)",
                               errorType: name, errorPayload: payload)
        }
        return CallFailure(code: .remoteApplicationError, message: "\(name): \(error)", errorType: nil, errorPayload: nil)
    }

    /// The error to throw on the caller for a failure answer.
    func error(for failure: CallFailure) -> any Error {
        if let name = failure.errorType, let payload = failure.errorPayload,
           let entry = entries.withLock({ $0[name] }) {
            do {
                return try entry.decode(payload)
            } catch {
                return RemoteCallError(.remoteApplicationError,
                                       "\(failure.message) (its \(name) payload could not be decoded)", cause: error)
            }
        }
        return RemoteCallError(failure.code, failure.message)
    }
}
