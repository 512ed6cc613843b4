import SwiftDiagnostics
import SwiftSyntax
import SwiftSyntaxMacros

/// `@CortService` on a distributed actor: conforms it to `CortService` (if it
/// does not already) and to `CortDispatching`, whose `_cortDispatch` runs each
/// of its distributed methods by name, on the actor, with its arguments
/// decoded as the runtime would decode them; `_cortDispatchSync` does the same
/// for the methods that are not `async`, without an async call.
///
/// A method is left to the runtime's own path (the generated `switch` has no
/// case for it) when it is generic, has a variadic or opaque (`some`)
/// parameter, or shares its name and labels with another method.
public struct CortServiceMacro: ExtensionMacro {
    public static func expansion(
        of node: AttributeSyntax,
        attachedTo declaration: some DeclGroupSyntax,
        providingExtensionsOf type: some TypeSyntaxProtocol,
        conformingTo protocols: [TypeSyntax],
        in context: some MacroExpansionContext
    ) throws -> [ExtensionDeclSyntax] {
        guard let actor = declaration.as(ActorDeclSyntax.self),
              actor.modifiers.contains(where: { $0.name.tokenKind == .keyword(.distributed) })
        else {
            context.diagnose(Diagnostic(node: Syntax(node), message: CortServiceDiagnostic.notADistributedActor))
            return []
        }
        let methods = dispatchableMethods(of: actor)
        let cases = switchCases(methods)
        // The methods that are not `async` also get a synchronous dispatch,
        // which a node calls without an async frame or a switch.
        let synchronous = methods.filter { !$0.isAsync }
        let synchronousDispatch = synchronous.isEmpty ? "" : "\n" + """

                /// Runs `method` on `actor` when it is not `async`, as
                /// `_cortDispatch` does; written by `@CortService`.
                public static func _cortDispatchSync(
                    _ actor: isolated \(type.trimmed),
                    method: String,
                    arguments: inout Cort.CortInvocationDecoder
                ) throws -> Cort.CortDispatchResult {
                    switch method {
            \(switchCases(synchronous))        default:
                        return .notDispatched
                    }
                }
            """
        let conformances = protocols.map(\.trimmedDescription)
        let adopted = ["CortService", "CortDispatching"].filter { name in
            conformances.contains { $0 == name || $0.hasSuffix(".\(name)") }
        }
        let clause = adopted.isEmpty ? "" : ": " + adopted.map { "Cort.\($0)" }.joined(separator: ", ")
        let source: DeclSyntax = """
            extension \(type.trimmed)\(raw: clause) {
                /// Runs `method` (its name and labels, as in `hello(name:)`) on
                /// `actor`; written by `@CortService`.
                public static func _cortDispatch(
                    _ actor: isolated \(type.trimmed),
                    method: String,
                    arguments: inout Cort.CortInvocationDecoder
                ) async throws -> Cort.CortDispatchResult {
                    switch method {
            \(raw: cases)        default:
                        return .notDispatched
                    }
                }\(raw: synchronousDispatch)
            }
            """
        guard let extensionDecl = source.as(ExtensionDeclSyntax.self) else { return [] }
        return [extensionDecl]
    }

    /// The `case`s of a dispatch's `switch`, one for each of `methods`.
    static func switchCases(_ methods: [Method]) -> String {
        var cases = ""
        for method in methods {
            cases += "        case \(stringLiteral(method.key)):\n"
            for (index, parameter) in method.parameterTypes.enumerated() {
                cases += "            let argument\(index): \(parameter) = try arguments.nextArgument()\n"
            }
            let call = "\(method.isAsync ? "await " : "")actor.\(method.name)(\(method.argumentList))"
            if method.returnsVoid {
                cases += "            \(method.throwsErrors ? "try " : "")\(call)\n"
                cases += "            return .returned(nil)\n"
            } else {
                cases += "            return .returned(try Self._cortEncode(\(call)))\n"
            }
        }
        return cases
    }

    /// One distributed method the dispatch runs.
    struct Method {
        /// `hello(name:)`: how the node names the target.
        let key: String
        let name: String
        let parameterTypes: [String]
        /// `name: argument0, argument1`
        let argumentList: String
        let isAsync: Bool
        let throwsErrors: Bool
        let returnsVoid: Bool
    }

    static func dispatchableMethods(of actor: ActorDeclSyntax) -> [Method] {
        var methods: [Method] = []
        // Every distributed method's key, those left out included: a key two
        // methods share (an overload, generic or not) is left to the runtime,
        // which tells them apart by their types.
        var keys: [String: Int] = [:]
        for member in actor.memberBlock.members {
            guard let function = member.decl.as(FunctionDeclSyntax.self),
                  function.modifiers.contains(where: { $0.name.tokenKind == .keyword(.distributed) })
            else { continue }
            keys[key(of: function), default: 0] += 1
            guard !function.modifiers.contains(where: { $0.name.tokenKind == .keyword(.static) }),
                  function.genericParameterClause == nil, function.genericWhereClause == nil
            else { continue }
            let parameters = function.signature.parameterClause.parameters
            guard !parameters.contains(where: { parameter in
                parameter.ellipsis != nil
                    || parameter.type.as(SomeOrAnyTypeSyntax.self)?.someOrAnySpecifier.tokenKind == .keyword(.some)
            })
            else { continue }
            let name = function.name.trimmedDescription
            var arguments: [String] = []
            var types: [String] = []
            for (index, parameter) in parameters.enumerated() {
                let label = parameter.firstName.trimmedDescription
                // A keyword needs no backticks as an argument's label, but these three.
                let argumentLabel = ["inout", "var", "let"].contains(label.trimmingBackticks) ? label : label.trimmingBackticks
                arguments.append(label == "_" ? "argument\(index)" : "\(argumentLabel): argument\(index)")
                types.append(parameter.type.trimmedDescription)
            }
            let effects = function.signature.effectSpecifiers
            let returned = function.signature.returnClause?.type.trimmedDescription
            methods.append(Method(
                key: key(of: function), name: name, parameterTypes: types,
                argumentList: arguments.joined(separator: ", "),
                isAsync: effects?.asyncSpecifier != nil, throwsErrors: effects?.throwsClause != nil,
                returnsVoid: returned == nil || returned == "Void" || returned == "()"))
        }
        return methods.filter { keys[$0.key] == 1 }
    }

    /// `hello(name:)`: a method's name and labels, as the node names its target.
    static func key(of function: FunctionDeclSyntax) -> String {
        let labels = function.signature.parameterClause.parameters.map { parameter in
            let label = parameter.firstName.trimmedDescription
            return (label == "_" ? "_" : label.trimmingBackticks) + ":"
        }
        return "\(function.name.trimmedDescription.trimmingBackticks)(\(labels.joined()))"
    }

    /// A key as a string literal (names and labels are identifiers: no quote or backslash to escape).
    static func stringLiteral(_ text: String) -> String {
        "\"" + text + "\""
    }
}

enum CortServiceDiagnostic: String, DiagnosticMessage {
    case notADistributedActor

    var message: String {
        switch self {
        case .notADistributedActor: "@CortService applies to a distributed actor"
        }
    }

    var diagnosticID: MessageID { MessageID(domain: "CortMacros", id: rawValue) }
    var severity: DiagnosticSeverity { .error }
}

extension String {
    var trimmingBackticks: String {
        hasPrefix("`") && hasSuffix("`") && count >= 2 ? String(dropFirst().dropLast()) : self
    }
}
