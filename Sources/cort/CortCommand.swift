import ArgumentParser
import Cort

/// `cort`: tools for a cort cluster.
@main
struct CortCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cort",
        abstract: "Tools for cort services.",
        subcommands: [KeygenCommand.self, ServicesCommand.self, NodesCommand.self, DescribeCommand.self,
                      CallCommand.self, BenchCommand.self]
    )
}
