import Cort
import Distributed
import Foundation
import Testing

/// The greeter of the README.
distributed actor Greeter {
    typealias ActorSystem = CortSystem

    distributed func hello(name: String) -> String {
        "Hello, \(name)!"
    }

    /// Which node's replica answered (its endpoint).
    distributed func whoAmI() -> String {
        id.endpoint ?? "?"
    }
}

struct Point: Codable, Sendable, Equatable {
    var x: Double
    var y: Double
}

enum Shape: Codable, Sendable, Equatable {
    case circle(center: Point, radius: Double)
    case polygon([Point])
    case empty
}

struct Drawing: Codable, Sendable, Equatable {
    var title: String
    var shapes: [Shape]
    var tags: [String: Int]
    var thumbnail: Data?
    var createdAt: Date
}

/// A value that refuses to be encoded when negative and to be decoded when
/// 13: for a caller's arguments and results that cannot cross.
struct Picky: Codable, Sendable, Equatable {
    struct Refused: Error {}
    var n: Int

    init(n: Int) { self.n = n }

    init(from decoder: any Decoder) throws {
        n = try decoder.singleValueContainer().decode(Int.self)
        if n == 13 { throw Refused() }
    }

    func encode(to encoder: any Encoder) throws {
        if n < 0 { throw Refused() }
        var container = encoder.singleValueContainer()
        try container.encode(n)
    }
}

/// Arguments and results of many shapes, and actor references.
distributed actor Shapes {
    typealias ActorSystem = CortSystem

    distributed func echo(_ drawing: Drawing) -> Drawing { drawing }
    distributed func optional(_ value: Int?) -> Int? { value.map { $0 * 2 } }
    distributed func bytes(_ data: Data, _ raw: [UInt8]) -> Data { data + Data(raw) }
    distributed func nothing() {}
    /// How many times ``picky(_:)`` ran.
    private(set) var pickyCalls = 0
    distributed func picky(_ value: Picky) -> Picky {
        pickyCalls += 1
        return Picky(n: value.n + 1)
    }
    distributed func pickyCallCount() -> Int { pickyCalls }
    distributed func many(_ a: Int8, _ b: UInt64, _ c: Float, _ d: Bool, _ e: [String]) -> String {
        "\(a) \(b) \(c) \(d) \(e.joined(separator: ","))"
    }
    /// Calls the greeter it is handed (an actor reference as an argument).
    distributed func greet(through greeter: Greeter, name: String) async throws -> String {
        try await greeter.hello(name: name)
    }
    /// The actors this one handed out: the system holds local actors weakly,
    /// so whoever hands out a reference keeps the actor alive.
    private var tallies: [Tally] = []

    /// Returns a reference to a new actor on this node.
    distributed func makeTally() -> Tally {
        let tally = Tally(actorSystem: actorSystem)
        tallies.append(tally)
        return tally
    }
}

distributed actor Tally {
    typealias ActorSystem = CortSystem
    var value = 0

    distributed func increment() -> Int {
        value += 1
        return value
    }

    /// Increments after `milliseconds` (or throws when cancelled first).
    distributed func slowIncrement(milliseconds: Int) async throws -> Int {
        try await Task.sleep(for: .milliseconds(milliseconds))
        value += 1
        return value
    }
}

struct Refusal: Error, Codable, Sendable, Equatable {
    var reason: String
}

struct Unregistered: Error, CustomStringConvertible {
    var description: String { "an error nobody registered" }
}

/// Slow and failing methods, for deadlines, cancellation and errors.
distributed actor Worker {
    typealias ActorSystem = CortSystem

    /// Waits up to `seconds` (or until cancelled) and records how it ended.
    distributed func wait(_ key: String, seconds: Double) async throws -> String {
        Observations.shared.record(key, "started")
        do {
            try await Task.sleep(for: .seconds(seconds))
        } catch {
            Observations.shared.record(key, "cancelled")
            throw error
        }
        Observations.shared.record(key, "finished")
        return "done"
    }

    distributed func refuse(_ reason: String) throws -> Int {
        throw Refusal(reason: reason)
    }

    distributed func fail() throws -> Int {
        throw Unregistered()
    }
}

/// Calls `worker.wait(key, seconds:)`, cancels the calling task once the
/// method has started, and returns the error the call ended with (nil,
/// recorded as an issue, when it returned a value or did not start).
func cancelWhileRunning(_ worker: Worker, key: String, seconds: Double) async -> RemoteCallError? {
    let call = Task { try await worker.wait(key, seconds: seconds) }
    guard await Observations.shared.waitFor(key, { $0 == "started" }) else {
        Issue.record("the method never started")
        call.cancel()
        return nil
    }
    call.cancel()
    do {
        _ = try await call.value
        Issue.record("the cancelled call returned a value")
    } catch let error as RemoteCallError {
        return error
    } catch {
        Issue.record("the cancelled call threw \(error)")
    }
    return nil
}

/// A type that is never hosted under its own name: calling its methods on a
/// greeter service must be refused.
distributed actor Impostor {
    typealias ActorSystem = CortSystem
    distributed func hello(name: String) -> String { "not a greeter" }
    /// Takes a type nested in Greeter: its target mentions `Greeter.` in a parameter.
    distributed func leave(_ note: Greeter.Note) -> String { note.text }
}

extension Greeter {
    struct Note: Codable, Sendable {
        var text: String
    }
}

/// A service with idempotent and non-idempotent methods, for failover: each
/// run is recorded under its key with the endpoint of the node that ran it.
distributed actor Ledger: IdempotentMethods {
    typealias ActorSystem = CortSystem
    static let idempotentMethods: Set<String> = ["read(_:)"]

    distributed func read(_ key: String) -> String {
        Observations.shared.record(key, "read@\(id.endpoint ?? "?")")
        return id.endpoint ?? "?"
    }

    distributed func append(_ key: String) -> String {
        Observations.shared.record(key, "append@\(id.endpoint ?? "?")")
        return id.endpoint ?? "?"
    }

    /// Runs until the test releases `key` (``Observations/release(_:)``, at
    /// most a minute) or the call is cancelled, recording its start and end:
    /// a gate, not a fixed time, so the call is still running whenever the
    /// test needs it to be, however loaded the machine.
    distributed func holdUntilReleased(_ key: String) async throws -> String {
        Observations.shared.record(key, "started@\(id.endpoint ?? "?")")
        guard await Observations.shared.waitFor(Observations.releaseKey(key), timeout: .seconds(60), { _ in true }) else {
            throw CancellationError()
        }
        Observations.shared.record(key, "finished@\(id.endpoint ?? "?")")
        return id.endpoint ?? "?"
    }

    distributed func refuse(_ reason: String) throws -> Int {
        throw Refusal(reason: reason)
    }
}

/// Calls that stay in flight until cancelled, beside quick ones.
distributed actor HoldingGate {
    typealias ActorSystem = CortSystem

    /// Returns `n` after a minute, or throws once its call is cancelled.
    distributed func hold(_ n: Int) async throws -> Int {
        try await Task.sleep(for: .seconds(60))
        return n
    }

    distributed func echo(_ n: Int) -> Int { n }
}
