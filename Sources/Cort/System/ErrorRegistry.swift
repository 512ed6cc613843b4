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

    /// The name a ``RemoteCallError`` thrown by a method travels under.
    static let remoteCallErrorName = "Cort.RemoteCallError"

    /// A method's ``RemoteCallError`` on the wire: its code and message.
    private struct ThrownRemoteCallError: Codable {
        var code: UInt8
        var message: String
    }

    /// The answer for an error thrown by a method.
    ///
    /// Whatever a method throws is its answer, never a refusal by the node:
    /// a ``RemoteCallError`` (say the `overloaded` of a call it made itself)
    /// travels as ``RemoteCallError/Code/remoteApplicationError`` with the
    /// original code and message inside, so a caller's failover can never
    /// take it for "the node did not run the call" and run it again.
    func failure(for error: any Error, method: String) -> CallFailure {
        if let remote = error as? RemoteCallError {
            let payload = try? MessagePackEncoder().encode(
                ThrownRemoteCallError(code: remote.code.wireValue, message: remote.message))
            return CallFailure(code: .remoteApplicationError,
                               message: "\(method) threw RemoteCallError(\(remote.code)): \(remote.message)",
                               errorType: payload == nil ? nil : Self.remoteCallErrorName, errorPayload: payload)
        }
        let name = Self.name(of: type(of: error))
        if let entry = entries.withLock({ $0[name] }), let payload = try? entry.encode(error) {
            return CallFailure(code: .remoteApplicationError, message: "\(method) threw \(name): \(error)",
                               errorType: name, errorPayload: payload)
        }
        return CallFailure(code: .remoteApplicationError, message: "\(method) threw \(name): \(error)",
                           errorType: nil, errorPayload: nil)
    }

    /// The error to throw on the caller for a failure answer.
    func error(for failure: CallFailure) -> any Error {
        if failure.errorType == Self.remoteCallErrorName, let payload = failure.errorPayload {
            let thrown = try? MessagePackDecoder().decode(ThrownRemoteCallError.self, from: payload)
            return RemoteCallError(.remoteApplicationError, failure.message,
                                   cause: thrown.map { RemoteCallError(.init(wireValue: $0.code), $0.message) })
        }
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
