import Testing
@testable import Cort

@Suite struct RemoteCallErrorTests {
    @Test func codesRoundTripThroughTheirWireValues() {
        let codes: [RemoteCallError.Code] = [
            .deadlineExceeded, .cancelled, .noNodes, .overloaded, .unknownTarget, .badArguments,
            .protocolError, .transport, .remoteApplicationError, .messageTooLarge, .shuttingDown,
        ]
        #expect(Set(codes.map(\.wireValue)).count == codes.count)
        for code in codes {
            #expect(RemoteCallError.Code(wireValue: code.wireValue) == code)
        }
    }

    @Test func unknownWireValuesAreProtocolErrors() {
        #expect(RemoteCallError.Code(wireValue: 0) == .protocolError)
        #expect(RemoteCallError.Code(wireValue: 200) == .protocolError)
    }

    @Test func descriptionSaysCodeMessageAndCause() {
        struct Cause: Error, Sendable {}
        let error = RemoteCallError(.overloaded, "greeter on node-a is full", cause: Cause())
        #expect(error.description.contains("overloaded"))
        #expect(error.description.contains("greeter on node-a is full"))
        #expect(error.description.contains("Cause"))
    }
}
