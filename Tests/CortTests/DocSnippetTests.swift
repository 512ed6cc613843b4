import DocSnippets
import Foundation
import Testing

/// Every Swift block in README.md, docs/ and the DocC catalogs is code that compiles: each is
/// marked `<!-- snippet: NAME -->` and is, character for character, the
/// region `// snippet: NAME` … `// end snippet` of a Swift file under Tests/
/// (the DocSnippets target, or a test that runs it), without its indentation.
@Suite struct DocSnippetTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    struct Block: CustomStringConvertible {
        var file: String
        var line: Int
        var name: String?
        var text: String
        var description: String { "\(file):\(line)" + (name.map { " (\($0))" } ?? "") }
    }

    /// The documents whose Swift blocks must compile.
    static func documents() throws -> [URL] {
        var urls = [root.appendingPathComponent("README.md")]
        let sources = root.appendingPathComponent("Sources")
        let catalogs = try FileManager.default.contentsOfDirectory(atPath: sources.path).sorted()
            .map { "Sources/\($0)/Documentation.docc" }
            .filter { FileManager.default.fileExists(atPath: root.appendingPathComponent($0).path) }
        for folder in ["docs"] + catalogs {
            let directory = root.appendingPathComponent(folder)
            let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            urls += names.filter { $0.hasSuffix(".md") }.map { directory.appendingPathComponent($0) }
        }
        return urls
    }

    /// The ```swift blocks of a Markdown text, with the snippet marker before each.
    static func blocks(in text: String, file: String) -> [Block] {
        var blocks: [Block] = []
        var lastMarker: String?
        var current: Block?
        for (index, line) in text.components(separatedBy: "\n").enumerated() {
            if var block = current {
                if line.trimmingCharacters(in: .whitespaces) == "```" {
                    blocks.append(block)
                    current = nil
                } else {
                    block.text += line + "\n"
                    current = block
                }
            } else if line.hasPrefix("```swift") {
                current = Block(file: file, line: index + 1, name: lastMarker, text: "")
                lastMarker = nil
            } else if let range = line.range(of: "<!-- snippet: "), let end = line.range(of: " -->") {
                lastMarker = String(line[range.upperBound..<end.lowerBound])
            } else if !line.trimmingCharacters(in: .whitespaces).isEmpty {
                lastMarker = nil
            }
        }
        return blocks
    }

    /// Every region of the Swift files under Tests/ (the DocSnippets target,
    /// and tests that run their snippets), by name, without its indentation.
    static func regions() throws -> [String: String] {
        let directory = root.appendingPathComponent("Tests")
        var regions: [String: String] = [:]
        let files = FileManager.default.enumerator(atPath: directory.path)?.compactMap { $0 as? String } ?? []
        for name in files where name.hasSuffix(".swift") && name != "CortTests/DocSnippetTests.swift" {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            var open: (name: String, lines: [String])?
            for line in text.components(separatedBy: "\n") {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.hasPrefix("// snippet: ") {
                    open = (String(trimmed.dropFirst("// snippet: ".count)), [])
                } else if trimmed == "// end snippet", let region = open {
                    if regions[region.name] != nil { Issue.record("two regions named \(region.name), one in \(name)") }
                    let indent = region.lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                        .map { $0.prefix { $0 == " " }.count }.min() ?? 0
                    regions[region.name] = region.lines.map { String($0.dropFirst(min(indent, $0.count))) }
                        .joined(separator: "\n") + "\n"
                    open = nil
                } else if open != nil {
                    open!.lines.append(line)
                }
            }
        }
        return regions
    }

    @Test func everySwiftBlockInTheDocsIsCompiledCode() throws {
        let regions = try Self.regions()
        var seen = 0
        for url in try Self.documents() {
            let text = try String(contentsOf: url, encoding: .utf8)
            for block in Self.blocks(in: text, file: url.lastPathComponent) {
                seen += 1
                guard let name = block.name else {
                    Issue.record("\(block): a Swift block without a `<!-- snippet: NAME -->` marker")
                    continue
                }
                guard let region = regions[name] else {
                    Issue.record("\(block): no region `// snippet: \(name)` in Tests/DocSnippets")
                    continue
                }
                #expect(block.text == region, "\(block) differs from its compiled region:\n\(block.text)\n---\n\(region)")
            }
        }
        #expect(seen >= 3)
    }

    @Test func theMarkdownReaderFindsBlocksAndMarkers() {
        let text = """
        <!-- snippet: one -->
        ```swift
        let a = 1
        ```
        prose
        ```swift
        let b = 2
        ```
        """
        let blocks = Self.blocks(in: text, file: "x.md")
        #expect(blocks.map(\.name) == ["one", nil])
        #expect(blocks.map(\.text) == ["let a = 1\n", "let b = 2\n"])
    }

    @Test func readmesGettingStartedRuns() async throws {
        try await readmeGettingStarted()
    }
}
