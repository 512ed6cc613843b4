import SwiftCompilerPlugin
import SwiftSyntaxMacros

@main
struct CortMacrosPlugin: CompilerPlugin {
    let providingMacros: [any Macro.Type] = [CortServiceMacro.self]
}
