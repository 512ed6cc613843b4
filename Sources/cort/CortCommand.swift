import ArgumentParser
import Cort

/// `cort`: tools for a cort cluster.
@main
struct CortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cort",
        abstract: "Tools for cort services.",
        subcommands: [KeygenCommand.self]
    )
}
