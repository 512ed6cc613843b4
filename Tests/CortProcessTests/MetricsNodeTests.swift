import Cort
import ExampleServices
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

extension ProcessScenarios {
    /// The `cort-metrics-node` example as a process: it bootstraps
    /// swift-prometheus, serves the greeter, and its `/metrics` page counts
    /// the calls a caller in this process made to it.
    @Suite("cort-metrics-node")
    struct MetricsNodeTests {
        static let patience = Duration.seconds(20)

        @Test("the node's /metrics page counts the greeter calls it served, in Prometheus' text format")
        func metricsPageCountsCalls() async throws {
            let executable = try TestExecutable.url(product: "cort-metrics-node", environmentVariable: "CORT_METRICS_NODE")
            let errorPath = FileManager.default.temporaryDirectory
                .appendingPathComponent("cort-metrics-node-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).stderr").path
            let child = try await ChildProcess.start(executable: executable, arguments: ["tcp://127.0.0.1:0", "0"],
                                                     standardError: .file(errorPath))
            var caller: CortSystem?
            func errors() -> String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
            do {
                let ready = await child.output.wait(timeout: Self.patience) { output in
                    output.ended || output.lines.contains { $0.hasPrefix("ready ") }
                }
                // "ready <endpoint> <metrics url>"
                let words = child.output.value.lines.first { $0.hasPrefix("ready ") }?.split(separator: " ").map(String.init)
                guard ready, let words, words.count == 3, let metricsURL = URL(string: words[2]) else {
                    throw ProcessTestFailure("cort-metrics-node printed no ready line: \(child.output.value.lines) \(errors())")
                }
                let endpoint = words[1]
                #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":0"), "\(endpoint)")
                #expect(metricsURL.host == "127.0.0.1" && metricsURL.path == "/metrics" && metricsURL.port != 0,
                        "\(metricsURL)")

                let system = try CortSystem.start(.init(
                    name: "metrics-caller", discovery: try StaticDiscovery([Greeter.serviceName: [endpoint]]),
                    defaultTimeout: .seconds(30)))
                caller = system
                let greeter = try Greeter.service(in: system)
                for name in ["Ada", "Grace", "Edsger"] {
                    let greeting = try await greeter.hello(name: name)
                    #expect(greeting.text == "Hello, \(name)!")
                    #expect(greeting.servedBy == endpoint)
                }

                // The node counts a call as it answers it: the count is there
                // once the answers are; a second look only covers a slow
                // scheduler, bounded by `patience`.
                let callsLine = #"cort_server_calls_total{service="greeter",method="Greeter.hello(name:)",code="ok"}"#
                let clock = ContinuousClock()
                let deadline = clock.now + Self.patience
                var page = try await Self.get(metricsURL)
                while Self.samples(in: page.text).value(of: callsLine) != 3, clock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    page = try await Self.get(metricsURL)
                }

                #expect(page.status == 200)
                #expect(page.contentType?.hasPrefix("text/plain; version=0.0.4") == true, "\(page.contentType ?? "none")")
                let samples = Self.samples(in: page.text)
                // The exact line swift-prometheus writes (labels in cort's order)…
                #expect(page.text.split(separator: "\n").contains("\(callsLine) 3"), "\(page.text)")
                // …and the same by its labels, whatever their order.
                let calls = samples.filter { $0.name == "cort_server_calls_total" && $0.labels["service"] == "greeter" }
                #expect(calls.count { $0.labels["code"] == "ok" } == 1)
                #expect(calls.first { $0.labels["code"] == "ok" }?.value == 3)
                #expect(calls.filter { $0.labels["code"] != "ok" }.allSatisfy { $0.value == 0 }, "\(calls)")

                // The method's duration, a histogram in seconds: three
                // observations, all in the +Inf bucket, a positive sum.
                #expect(page.text.contains("# TYPE cort_server_call_duration_seconds histogram"))
                let duration = samples.filter { $0.labels["service"] == "greeter" && $0.labels["method"] == "Greeter.hello(name:)" }
                #expect(duration.first { $0.name == "cort_server_call_duration_seconds_count" }?.value == 3, "\(page.text)")
                #expect(duration.first { $0.name == "cort_server_call_duration_seconds_bucket" && $0.labels["le"] == "+Inf" }?.value == 3)
                let sum = try #require(duration.first { $0.name == "cort_server_call_duration_seconds_sum" }?.value)
                #expect(sum > 0 && sum < 30, "\(sum)")
                // Queue time per service: the same three calls.
                #expect(samples.first { $0.name == "cort_server_queue_seconds_count" && $0.labels["service"] == "greeter" }?.value == 3)

                await system.shutdown()
                caller = nil

                // SIGTERM: the node drains, its endpoint stops, it exits 0.
                child.send(SIGTERM)
                let exited = await child.exit.wait(timeout: Self.patience) { $0 != nil }
                #expect(exited, "cort-metrics-node did not exit within \(Self.patience) of SIGTERM: \(errors())")
                #expect(child.exit.value == ChildProcess.Exit(status: 0, signalled: false),
                        "\(child.exit.value?.description ?? "running"): \(errors())")
                #expect(child.output.value.lines.contains("drained and stopped"), "\(child.output.value.lines)")
            } catch {
                await caller?.shutdown()
                Self.kill(child)
                _ = await child.exit.wait(timeout: .seconds(10)) { $0 != nil }
                throw error
            }
            Self.kill(child)
            if await child.exit.wait(timeout: .seconds(10), until: { $0 != nil }) == false {
                Issue.record("cort-metrics-node (pid \(child.pid)) did not exit within 10 s of SIGKILL")
            }
            try? FileManager.default.removeItem(atPath: errorPath)
        }

        /// Ends `child` for good (a no-op once it has exited).
        static func kill(_ child: ChildProcess) {
            child.closeInput()
            child.send(SIGKILL)
        }

        // MARK: HTTP

        struct Page: Sendable {
            var status: Int
            var contentType: String?
            var text: String
        }

        /// `GET url` with URLSession (its own threads: no cooperative thread
        /// waits on the socket), bounded: 10 s for the request, 15 s in all.
        static func get(_ url: URL) async throws -> Page {
            let page = try await withDeadline(.seconds(15)) {
                let configuration = URLSessionConfiguration.ephemeral
                configuration.timeoutIntervalForRequest = 10
                let session = URLSession(configuration: configuration)
                defer { session.finishTasksAndInvalidate() }
                let (body, response) = try await session.data(from: url)
                guard let http = response as? HTTPURLResponse else { throw ProcessTestFailure("\(url) answered no HTTP") }
                return Page(status: http.statusCode, contentType: http.value(forHTTPHeaderField: "Content-Type"),
                            text: String(decoding: body, as: UTF8.self))
            }
            guard let page else { throw ProcessTestFailure("GET \(url) had no answer within 15 s") }
            return page
        }

        // MARK: Prometheus' text format

        /// One sample line: `name{label="value",…} value`.
        struct Sample: Sendable, CustomStringConvertible {
            var name: String
            var labels: [String: String]
            var value: Double
            /// The line up to the value: the name and its labels as written.
            var series: String
            var description: String { "\(series) \(value)" }
        }

        /// The samples of an exposition: comments and blank lines skipped;
        /// label values with `\"`, `\\` and `\n` unescaped.
        static func samples(in text: String) -> [Sample] {
            text.split(separator: "\n").compactMap { line -> Sample? in
                guard !line.hasPrefix("#"), let space = line.lastIndex(of: " "),
                      let value = Double(line[line.index(after: space)...]) else { return nil }
                let series = line[..<space]
                guard let open = series.firstIndex(of: "{") else {
                    return Sample(name: String(series), labels: [:], value: value, series: String(series))
                }
                var labels: [String: String] = [:]
                var rest = series[series.index(after: open)...]
                while let equals = rest.firstIndex(of: "="), rest[rest.index(after: equals)...].first == "\"" {
                    let key = rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ","))
                    var index = rest.index(equals, offsetBy: 2)
                    var value = ""
                    while index < rest.endIndex, rest[index] != "\"" {
                        if rest[index] == "\\", rest.index(after: index) < rest.endIndex {
                            index = rest.index(after: index)
                            value.append(rest[index] == "n" ? "\n" : rest[index])
                        } else {
                            value.append(rest[index])
                        }
                        index = rest.index(after: index)
                    }
                    labels[key] = value
                    rest = index < rest.endIndex ? rest[rest.index(after: index)...] : rest[rest.endIndex...]
                }
                return Sample(name: String(series[..<open]), labels: labels, value: value, series: String(series))
            }
        }
    }
}

extension [ProcessScenarios.MetricsNodeTests.Sample] {
    /// The value of the sample whose name and labels are written as `series`.
    func value(of series: String) -> Double? {
        first { $0.series == series }?.value
    }
}
