// The calling process of the process tests' flood (CortProcessTests'
// BackpressureTests): it floods the `ledger` service of the given nodes with
// calls submitted all at once, so that the flood's 100,000 tasks load this
// process's cooperative pool and not the test process's, where other suites
// run in parallel.
//
//   CortTestCaller --endpoints E1,E2,... [--calls N] [--per-node N] [--per-service N]
//                  [--when-full wait|fail-fast] [--timeout-ms N] [--warm-up N]
//
// It makes `--warm-up` reads first (default 30), then measures the peak
// resident memory of as many bare suspended tasks as calls, prints
// "flooding", submits the calls (half reads, half appends, keys unique) and
// prints how they ended as a FloodReport, its memory included, then exits 0.
// Bad arguments: a message on standard error, exit 2; a failed warm-up: exit 1.
// End-of-file on standard input ends it at once with exit 3, so it never
// outlives the test that started it.
import Cort
import Foundation
import Logging
import ReliabilityServices

struct Options {
    var endpoints: [String] = []
    var calls = 100_000
    var limits = CallLimits()
    var timeout = Duration.seconds(10)
    var warmUp = 30

    static let usage = "usage: CortTestCaller --endpoints E1,E2,... [--calls N] [--per-node N] [--per-service N] "
        + "[--when-full wait|fail-fast] [--timeout-ms N] [--warm-up N]"

    init(_ arguments: [String]) throws(UsageError) {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { throw UsageError("\(flag) needs a value") }
            switch flag {
            case "--endpoints":
                endpoints = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                if endpoints.contains(where: \.isEmpty) { throw UsageError("--endpoints has an empty endpoint in \"\(value)\"") }
            case "--calls": calls = try Self.number(flag, value, minimum: 1)
            case "--per-node": limits.perNode = try Self.number(flag, value, minimum: 1)
            case "--per-service": limits.perService = try Self.number(flag, value, minimum: 1)
            case "--when-full":
                switch value {
                case "wait": limits.whenFull = .wait
                case "fail-fast": limits.whenFull = .failFast
                default: throw UsageError("--when-full wants wait or fail-fast, not \"\(value)\"")
                }
            case "--timeout-ms": timeout = .milliseconds(try Self.number(flag, value, minimum: 1))
            case "--warm-up": warmUp = try Self.number(flag, value, minimum: 0)
            default:
                throw UsageError("unknown option \(flag)")
            }
        }
        if endpoints.isEmpty { throw UsageError("--endpoints is required") }
    }

    private static func number(_ flag: String, _ value: String, minimum: Int) throws(UsageError) -> Int {
        guard let number = Int(value), number >= minimum else {
            throw UsageError("\(flag) wants a number ≥ \(minimum), not \"\(value)\"")
        }
        return number
    }
}

struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

func fail(_ message: String, status: Int32 = 2) -> Never {
    FileHandle.standardError.write(Data("CortTestCaller: \(message)\n".utf8))
    exit(status)
}

/// Unbuffered, so the test reads each line as soon as it is written.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data("\(line)\n".utf8))
}

/// How one flooded call ended, kept small: 100,000 of them are held at once.
enum Ending: Sendable {
    case succeeded
    case failed(RemoteCallError.Code, String)
    case unexpected(String)
}

/// Submits every call at once (half reads, half appends) and counts how they end.
func flood(_ ledger: Ledger, calls: Int) async -> FloodReport {
    await withTaskGroup(of: Ending.self) { group in
        for index in 0..<calls {
            group.addTask {
                let isRead = index.isMultiple(of: 2)
                let key = "\(isRead ? "r" : "a")-flood-\(index)"
                do {
                    let receipt = isRead ? try await ledger.read(key: key) : try await ledger.append(key: key)
                    return receipt.key == key ? .succeeded : .unexpected("a receipt for \(receipt.key)")
                } catch let error as RemoteCallError {
                    return .failed(error.code, error.message)
                } catch {
                    return .unexpected("\(error)")
                }
            }
        }
        var report = FloodReport()
        for await ending in group {
            switch ending {
            case .succeeded: report.recordSuccess()
            case .failed(let code, let message): report.recordFailure(code: "\(code)", message: message)
            case .unexpected(let text): report.recordUnexpected(text)
            }
        }
        return report
    }
}

let options: Options
do {
    options = try Options(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail("\(error.message)\n\(Options.usage)")
}

var logger = Logger(label: "cort-test-caller")
logger.logLevel = .error

let system: CortSystem
let ledger: Ledger
do {
    // The process tests' heartbeat (NodeCluster.heartbeat): a node silent for 300 ms is dead.
    system = try CortSystem.start(.init(
        name: "caller", discovery: StaticDiscovery([Ledger.serviceName: options.endpoints]),
        defaultTimeout: options.timeout, logger: logger,
        heartbeat: HeartbeatConfiguration(interval: .milliseconds(100), liveness: 3), callLimits: options.limits))
    ledger = try Ledger.resolve(id: .service(Ledger.serviceName), using: system)
} catch {
    fail("cannot start: \(error)")
}

// The parent holds the other end of standard input: end-of-file means it is
// gone or done with this flood, and nobody reads its report any more.
Thread.detachNewThread {
    while !FileHandle.standardInput.availableData.isEmpty {}
    fail("standard input closed before the flood ended", status: 3)
}

do {
    for index in 0..<options.warmUp {
        _ = try await ledger.read(key: "warm-\(index)")
    }
} catch {
    fail("the warm-up failed: \(error)", status: 1)
}

// What as many suspended tasks cost without cort, to tell cort's share.
let bare = await ResidentMemory.peak {
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<options.calls {
            group.addTask { try? await Task.sleep(for: .milliseconds(300)) }
        }
    }
}
say("flooding")
let start = ContinuousClock.now
let flooded = await ResidentMemory.peak { await flood(ledger, calls: options.calls) }
let elapsed = ContinuousClock.now - start
var report = flooded.result
(report.rssBefore, report.rssPeak, report.rssBare) = (flooded.before, flooded.peak, bare.peak)
report.elapsedMilliseconds = Int(elapsed / .milliseconds(1))
for line in report.lines { say(line) }
await system.shutdown()
exit(0)
