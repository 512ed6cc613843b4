import ArgumentParser
import Cort
import Foundation

/// `cort call SERVICE METHOD ARGS`: one call with JSON arguments, its result as JSON.
struct CallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call a method of a service with JSON arguments and print its result as JSON.",
        discussion: """
            METHOD is a name `cort describe SERVICE` lists (Greeter.hello(name:)), or the \
            same without the type (hello(name:)), or the bare name (hello) when only one \
            method has it. ARGS is a JSON array with an element per parameter: each is \
            sent in MessagePack as the node's decoder reads the parameter's Swift type \
            (a struct as an object, an optional as null, an integer for a Double is \
            accepted). The call goes as a typed call goes: discovery, heartbeats, \
            failover, CURVE from CORT_CURVE_SECRET_KEY(_FILE). The result is printed as \
            JSON (null for a method that returns nothing; binary data as base64). \
            A failed call prints its code and message on standard error (--json: \
            {"error": {"code", "wireCode", "message"}} on standard output).

            Exit codes: 0 the call returned; 1 the call failed (badArguments when ARGS \
            do not fit the parameters, permissionDenied, deadlineExceeded, ...), or the \
            method or service could not be found; 64 a usage error.
            """
    )

    @OptionGroup var call: CallArguments

    @Flag(help: "Send the call as idempotent (failover may send it again), whatever the node says of the method.")
    var idempotent = false

    @Flag(help: "Print the result, or the error, as one line of JSON.")
    var json = false

    func run() async throws {
        try await reportingFailures {
            let command = "call"
            let (service, timeout) = (call.service, call.timeout.duration)
            let encoded = try CommandMethod.arguments(call.arguments, command: command)
            let target = try await CommandMethod.resolve(call.method, of: service, command: command, timeout: timeout)
            let system = try target.startSystem()
            let options = CallOptions(timeout: timeout, metadata: call.metadataMap)
            let result: Result<[UInt8]?, RemoteCallError>
            do {
                result = .success(try await withCallOptions(timeout: options.timeout, metadata: options.metadata) {
                    try await system.call(service: service, target: target.method.target, method: target.method.name,
                                          arguments: encoded, idempotent: idempotent || target.method.isIdempotent)
                })
            } catch let error as RemoteCallError {
                result = .failure(error)
            } catch {
                result = .failure(RemoteCallError(.remoteApplicationError, "\(error)"))
            }
            await system.shutdown()
            switch result {
            case .success(let bytes):
                do {
                    print(try CommandMethod.json(ofResult: bytes, pretty: !json))
                } catch {
                    throw CommandFailure(command: command, "the result is not JSON: \(error)")
                }
            case .failure(let error):
                if json {
                    print(try CommandOutput.json(["error": ErrorOutput(error)]))
                    throw ExitCode.failure
                }
                throw CommandFailure(command: command, "\(error.code.name) (\(error.code.wireValue)): \(error.message)")
            }
        }
    }

    /// A failed call, for --json.
    struct ErrorOutput: Encodable {
        var code: String
        var wireCode: UInt8
        var message: String

        init(_ error: RemoteCallError) {
            code = error.code.name
            wireCode = error.code.wireValue
            message = error.message
        }
    }
}
