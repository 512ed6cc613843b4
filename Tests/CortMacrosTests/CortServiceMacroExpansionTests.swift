import CortMacros
import SwiftSyntaxMacroExpansion
import SwiftSyntaxMacrosGenericTestSupport
import Testing

/// What `@CortService` writes, as source.
@Suite struct CortServiceMacroExpansionTests {
    let macros: [String: MacroSpec] = [
        "CortService": MacroSpec(type: CortServiceMacro.self, conformances: ["CortService", "CortDispatching"]),
    ]

    func failure(_ spec: TestFailureSpec) {
        Issue.record(Comment(rawValue: spec.message),
                     sourceLocation: SourceLocation(fileID: spec.location.fileID, filePath: spec.location.filePath,
                                                    line: spec.location.line, column: spec.location.column))
    }

    /// The start of what the macro writes for `type`, up to its first `case`.
    func opening(_ type: String) -> String {
        """
        extension \(type): Cort.CortService, Cort.CortDispatching {
            /// Runs `method` (its name and labels, as in `hello(name:)`) on
            /// `actor`; written by `@CortService`.
            public static func _cortDispatch(
                _ actor: isolated \(type),
                method: String,
                arguments: inout Cort.CortInvocationDecoder
            ) async throws -> Cort.CortDispatchResult {
                switch method {
        """
    }

    /// An actor with a method of each kind the macro tells apart.
    let greeter = """
        distributed actor Greeter {
            distributed func hello(name: String, `default`: Int) async throws -> String { name }
            distributed func reset() {}
            distributed func stop() async throws -> Void {}
            distributed func value(_ x: Int) -> Int { x }
            distributed func value(_ x: String) -> String { x }
            distributed func same<T: Codable>(_ x: T) -> T { x }
            distributed func pick(_ x: Int) -> Int { x }
            distributed func pick<T: Codable>(_ x: T) -> T { x }
            distributed func sum(_ xs: Int...) -> Int { xs.reduce(0, +) }
            distributed func opaque(_ x: some Codable) {}
            func local() {}
        }
        """

    /// `pick(_:)` has a generic overload: a request naming the generic one
    /// must not run the other, so neither gets a case; nor do methods
    /// with a variadic or an opaque (`some`) parameter. The methods that
    /// are not `async` get a case in the synchronous dispatch too.
    @Test func aCasePerMethodWithItsEffectsAndNoneForOverloadsOrGenerics() {
        assertMacroExpansion(
            """
            @CortService
            \(greeter)
            """,
            expandedSource: """
            \(greeter)

            \(opening("Greeter"))
                    case "hello(name:default:)":
                        let argument0: String = try arguments.nextArgument()
                        let argument1: Int = try arguments.nextArgument()
                        return .returned(try Self._cortEncode(await actor.hello(name: argument0, default: argument1)))
                    case "reset()":
                        actor.reset()
                        return .returned(nil)
                    case "stop()":
                        try await actor.stop()
                        return .returned(nil)
                    default:
                        return .notDispatched
                    }
                }

                /// Runs `method` on `actor` when it is not `async`, as
                /// `_cortDispatch` does; written by `@CortService`.
                public static func _cortDispatchSync(
                    _ actor: isolated Greeter,
                    method: String,
                    arguments: inout Cort.CortInvocationDecoder
                ) throws -> Cort.CortDispatchResult {
                    switch method {
                    case "reset()":
                        actor.reset()
                        return .returned(nil)
                    default:
                        return .notDispatched
                    }
                }
            }
            """,
            macroSpecs: macros,
            failureHandler: failure)
    }

    /// With every method `async`, no synchronous dispatch is written (the
    /// protocol's default has no case).
    @Test func noSynchronousDispatchWhenEveryMethodIsAsync() {
        let clock = """
            distributed actor Clock {
                distributed func now() async -> Int { 0 }
            }
            """
        assertMacroExpansion(
            """
            @CortService
            \(clock)
            """,
            expandedSource: """
            \(clock)

            \(opening("Clock"))
                    case "now()":
                        return .returned(try Self._cortEncode(await actor.now()))
                    default:
                        return .notDispatched
                    }
                }
            }
            """,
            macroSpecs: macros,
            failureHandler: failure)
    }

    @Test func onAnythingButADistributedActorItIsAnError() {
        assertMacroExpansion(
            """
            @CortService
            actor Plain {
            }
            """,
            expandedSource: """
            actor Plain {
            }
            """,
            diagnostics: [DiagnosticSpec(message: "@CortService applies to a distributed actor", line: 1, column: 1)],
            macroSpecs: macros,
            failureHandler: failure)
    }
}
