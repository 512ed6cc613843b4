// One node of the `ledger` service in a process of its own, for the process
// tests (CortProcessTests):
//
//   CortTestNode --name NAME --log PATH [--endpoint ENDPOINT] [--replicas N] [--delay-ms N]
//                [--consul HOST:PORT [--ttl-ms N]] [--curve-from-env]
//
// With --consul it registers in that Consul agent (ConsulDiscovery, a TTL
// check of --ttl-ms, default 1000) and deregisters when it drains.
//
// With --curve-from-env it takes its security from the environment, as a
// service would through swift-configuration (CORT_CURVE_SECRET_KEY_FILE or
// CORT_CURVE_SECRET_KEY, CORT_CURVE_ALLOWED_CALLERS_FILE): CURVE when a key
// is set. Without it the node is plaintext, whatever the environment says.
//
// Every call it runs is appended to the log at PATH before it runs (see
// ExecutionLog). It prints "ready <endpoint>" once it serves, and
// "stopped" once a graceful shutdown has drained it. SIGTERM drains it (the
// system runs in a ServiceGroup); end-of-file on standard input ends it at
// once, so no node outlives the test that started it.
import Configuration
import Cort
import CortConsul
import Foundation
import Logging
import ReliabilityServices
import ServiceLifecycle

struct Options {
    var name = ""
    var log = ""
    var endpoint = "tcp://127.0.0.1:0"
    var replicas = 4
    var delay = Duration.zero
    var consul: String?
    var ttl = Duration.seconds(1)
    var curveFromEnvironment = false

    static let usage = "usage: CortTestNode --name NAME --log PATH [--endpoint ENDPOINT] [--replicas N] [--delay-ms N] "
        + "[--consul HOST:PORT [--ttl-ms N]] [--curve-from-env]"

    init(_ arguments: [String]) throws(UsageError) {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            if flag == "--curve-from-env" {
                curveFromEnvironment = true
                continue
            }
            guard let value = rest.popFirst() else { throw UsageError("\(flag) needs a value") }
            switch flag {
            case "--name": name = value
            case "--log": log = value
            case "--endpoint": endpoint = value
            case "--replicas":
                guard let count = Int(value), count > 0 else { throw UsageError("--replicas wants a positive number, not \"\(value)\"") }
                replicas = count
            case "--delay-ms":
                guard let milliseconds = Int(value), milliseconds >= 0 else {
                    throw UsageError("--delay-ms wants a number ≥ 0, not \"\(value)\"")
                }
                delay = .milliseconds(milliseconds)
            case "--consul": consul = value
            case "--ttl-ms":
                guard let milliseconds = Int(value), milliseconds > 0 else {
                    throw UsageError("--ttl-ms wants a positive number, not \"\(value)\"")
                }
                ttl = .milliseconds(milliseconds)
            default:
                throw UsageError("unknown option \(flag)")
            }
        }
        if name.isEmpty { throw UsageError("--name is required") }
        if log.isEmpty { throw UsageError("--log is required") }
    }
}

struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("CortTestNode: \(message)\n".utf8))
    exit(2)
}

let options: Options
do {
    options = try Options(Array(CommandLine.arguments.dropFirst()))
} catch {
    fail("\(error.message)\n\(Options.usage)")
}

// Warnings only, on standard error: standard output carries the ready line.
var logger = Logger(label: "cort-test-node-\(options.name)")
logger.logLevel = .warning

let node: CortSystem
let log: ExecutionLog
do {
    log = try ExecutionLog(path: options.log)
    let discovery: any Discovery
    if let consul = options.consul {
        var configuration = ConsulDiscovery.Configuration(
            consul: try ConsulConfiguration.fromEnvironment(["CONSUL_HTTP_ADDR": consul]), ttl: options.ttl, logger: logger)
        configuration.deregisterCriticalServiceAfter = .seconds(60)
        discovery = try ConsulDiscovery(configuration: configuration)
    } else {
        discovery = try StaticDiscovery([:])
    }
    var security = Security.plaintext
    if options.curveFromEnvironment {
        // Only the security settings are taken; the name comes from --name
        // (the in-memory provider answers only where the environment does not).
        let config = ConfigReader(providers: [
            EnvironmentVariablesProvider(),
            InMemoryProvider(values: ["cort.name": ConfigValue(.string(options.name), isSecret: false)]),
        ])
        security = try CortSystem.Configuration(config: config.scoped(to: "cort"), discovery: discovery).security
    }
    node = try CortSystem.start(.init(name: options.name, discovery: discovery, endpoint: options.endpoint,
                                      logger: logger, security: security))
    let (name, delay) = (options.name, options.delay)
    try await node.host(Ledger.serviceName, replicas: options.replicas) { system in
        Ledger(actorSystem: system, node: name, log: log, delay: delay)
    }
} catch {
    fail("cannot start: \(error)")
}

// The parent holds the other end of standard input: end-of-file means it is
// gone or done with this node, and nobody waits for a drain any more.
Thread.detachNewThread {
    while !FileHandle.standardInput.availableData.isEmpty {}
    exit(0)
}

// Unbuffered writes, so the test reads each line as soon as it is written.
FileHandle.standardOutput.write(Data("ready \(node.endpoint ?? options.endpoint)\n".utf8))
let group = ServiceGroup(services: [node], gracefulShutdownSignals: [.sigterm], logger: logger)
do {
    try await group.run()
} catch {
    fail("the service group failed: \(error)")
}
FileHandle.standardOutput.write(Data("stopped\n".utf8))
exit(0)
