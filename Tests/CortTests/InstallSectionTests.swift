import Foundation
import Testing

/// README.md's Install section against Package.swift: the products it tells
/// a user to add are cort's library products, its table lists every one of
/// them, and the trait it names exists. (Its manifest block cannot be
/// compiled, so this is what keeps it true.)
@Suite struct InstallSectionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static func text(_ file: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
    }

    /// The README's Install section, from its heading to the next one.
    static func installSection() throws -> String {
        let readme = try text("README.md")
        let start = try #require(readme.range(of: "\n## Install\n"))
        let rest = readme[start.upperBound...]
        return String(rest[..<(rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex)])
    }

    /// The names in every `prefix"NAME"` of `text`.
    static func names(after prefix: String, in text: String) -> [String] {
        text.components(separatedBy: prefix).dropFirst().compactMap { $0.split(separator: "\"").first.map(String.init) }
    }

    @Test func theProductsItNamesAreCortsLibraryProducts() throws {
        let section = try Self.installSection()
        let manifest = try Self.text("Package.swift")
        let libraries = Set(Self.names(after: ".library(name: \"", in: manifest))
        #expect(libraries.isSuperset(of: ["Cort", "CortConsul", "CortTesting"]))
        #expect(section.contains(#".package(url: "https://github.com/<owner>/cort", from: "0.1.0")"#))
        let named = Self.names(after: ".product(name: \"", in: section)
        #expect(!named.isEmpty)
        for product in named {
            #expect(libraries.contains(product), "README's Install names \(product), which Package.swift does not offer")
        }
        let table = section.components(separatedBy: "\n").filter { $0.hasPrefix("| `") }.joined(separator: "\n")
        for library in libraries {
            #expect(table.contains("`\(library)`"), "README's Install table does not list the product \(library)")
        }
        // The examples are executable targets, not products: the one
        // executable a package that depends on cort gets is the `cort` tool.
        #expect(Self.names(after: ".executable(name: \"", in: manifest) == ["cort"])
    }

    @Test func theTraitItNamesExists() throws {
        let section = try Self.installSection()
        let traits = Self.names(after: ".trait(\n            name: \"", in: try Self.text("Package.swift"))
        #expect(traits == ["ConsulAgentDouble"])
        #expect(section.contains("`ConsulAgentDouble` trait"))
    }
}
