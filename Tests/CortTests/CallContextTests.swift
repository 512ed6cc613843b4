import CortTesting
import Foundation
import Testing
@testable import Cort

/// A hosted method knows the call it serves (``CallContext``), and the calls
/// it makes inherit its deadline and cancellation.
@Suite struct CallContextTests {
    /// Nodes hosting `probe` (the outer service), `inner` and `worker`, and a caller.
    ///
    /// Both systems keep time on one TestClock that never moves: a deadline
    /// never passes however long a loaded machine takes to run a call, and
    /// the time a method sees left is exactly what its call was given.
    static func withProbes<R>(
        nodeLimits: NodeLimits = NodeLimits(),
        _ body: (CortSystem, CortSystem) async throws -> R
    ) async throws -> R {
        let clock = TestClock()
        return try await withNodeAndCaller(
            node: { .init(name: "probe-node", discovery: $0, endpoint: "tcp://127.0.0.1:0",
                          defaultTimeout: .seconds(20), clock: clock, drainGrace: .zero, nodeLimits: nodeLimits) },
            caller: { .init(name: "probe-caller", discovery: $0, defaultTimeout: .seconds(20), clock: clock,
                            drainGrace: .zero) },
            host: { node in
                try await node.host("probe", replicas: 2) { Probe(actorSystem: $0) }
                try await node.host("inner", replicas: 2) { Probe(actorSystem: $0) }
                try await node.host("worker", replicas: 2) { Worker(actorSystem: $0) }
            }, body)
    }

    @Test func aMethodReadsItsCallsIdMethodMetadataCallerAndDeadline() async throws {
        try await Self.withProbes { _, caller in
            let probe = try Probe.resolve(id: .service("probe"), using: caller)
            #expect(ContextReport(CallContext.current) == nil, "no context outside a hosted method")
            let options = CallOptions(timeout: .seconds(3), idempotent: true, metadata: ["tenant": "acme"])
            let first = try #require(try await CallOptions.$current.withValue(options) { try await probe.context() })
            #expect(first.callID != 0)
            #expect(first.service == "probe")
            #expect(first.method == "Probe.context()")
            #expect(first.metadata == ["tenant": "acme"])
            #expect(first.idempotent)
            #expect(first.remainingMilliseconds == 3000, "virtual time stands still: all 3 s are left")
            #expect(first.caller.hasPrefix("c:"), "\(first.caller)")
            let second = try #require(try await probe.context())
            #expect(second.callID != first.callID)
            #expect(second.caller == first.caller, "one caller, one identity")
            #expect(second.metadata.isEmpty && !second.idempotent)
            #expect(second.remainingMilliseconds == 20000, "the system's default of 20 s applies")
        }
    }

    @Test func theNodeCapsTheDeadlineACallerAsksFor() async throws {
        try await Self.withProbes(nodeLimits: NodeLimits(maxCallDuration: .seconds(2))) { _, caller in
            let probe = try Probe.resolve(id: .service("probe"), using: caller)
            let report = try #require(try await probe.context())
            #expect(report.remainingMilliseconds == 2000, "20 s asked, capped at 2 s: \(report.remainingMilliseconds) ms")
        }
    }

    @Test func callsMadeInsideInheritTheRemainingDeadlineAndAShorterTimeoutWins() async throws {
        try await Self.withProbes { _, caller in
            let probe = try Probe.resolve(id: .service("probe"), using: caller)
            let inherited = try #require(try await CallOptions.$current.withValue(CallOptions(timeout: .seconds(3))) {
                try await probe.relayContext(timeout: nil, forwardMetadata: false)
            })
            #expect(inherited.remainingMilliseconds == 3000, "not the system's 20 s: \(inherited.remainingMilliseconds) ms")
            let shorter = try #require(try await CallOptions.$current.withValue(CallOptions(timeout: .seconds(3))) {
                try await probe.relayContext(timeout: 0.5, forwardMetadata: false)
            })
            #expect(shorter.remainingMilliseconds == 500)
            let longer = try #require(try await CallOptions.$current.withValue(CallOptions(timeout: .seconds(3))) {
                try await probe.relayContext(timeout: 60, forwardMetadata: false)
            })
            #expect(longer.remainingMilliseconds == 3000, "a longer timeout does not outlive the served call")
        }
    }

    @Test func metadataIsForwardedWhenTheMethodAsks() async throws {
        try await Self.withProbes { _, caller in
            let probe = try Probe.resolve(id: .service("probe"), using: caller)
            let options = CallOptions(metadata: ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"])
            let forwarded = try #require(try await CallOptions.$current.withValue(options) {
                try await probe.relayContext(timeout: nil, forwardMetadata: true)
            })
            #expect(forwarded.metadata == options.metadata)
            let notForwarded = try #require(try await CallOptions.$current.withValue(options) {
                try await probe.relayContext(timeout: nil, forwardMetadata: false)
            })
            #expect(notForwarded.metadata.isEmpty)
        }
    }

    @Test func cancellingTheServedCallCancelsTheCallsItMade() async throws {
        try await Self.withProbes { _, caller in
            let probe = try Probe.resolve(id: .service("probe"), using: caller)
            let key = "relayed-\(UUID())"
            let call = Task { try await probe.relayWait(key) }
            #expect(await Observations.shared.waitFor(key) { $0 == "started" })
            call.cancel()
            #expect(await Observations.shared.waitFor(key) { $0 == "cancelled" },
                    "the inner call's method saw the cancellation")
            let outcome = await call.result
            #expect(throws: RemoteCallError.self) { try outcome.get() }
        }
    }
}
