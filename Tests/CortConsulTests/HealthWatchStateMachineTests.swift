import Testing
@testable import CortConsul

@Suite struct HealthWatchStateMachineTests {
    typealias Machine = HealthWatchStateMachine

    static func instance(_ id: String, port: Int = 5555, output: String = "") -> ConsulServiceInstance {
        ConsulServiceInstance(
            id: id, service: "greeter", address: "10.0.0.1", port: port, node: "host-a",
            checks: [ConsulHealthCheck(id: "service:\(id)", status: .passing, output: output)])
    }

    static func machine(burst: Int = 2, refill: Duration = .seconds(1)) -> Machine {
        var configuration = HealthWatch.Configuration()
        configuration.burst = burst
        configuration.refillInterval = refill
        return Machine(configuration: configuration)
    }

    @Test func firstQueryAnswersAtOnceAndItsAnswerIsReported() {
        var machine = Self.machine()
        #expect(machine.next(now: .zero) == .query(index: 0))
        let received = machine.received(index: 12, instances: [])
        #expect(received.update == HealthWatch.Update(instances: [], index: 12))
        #expect(machine.next(now: .zero) == .query(index: 12))
    }

    @Test func sameIndexOrSameContentIsNotAnUpdate() {
        var machine = Self.machine(burst: 10)
        _ = machine.next(now: .zero)
        _ = machine.received(index: 5, instances: [Self.instance("a")])
        _ = machine.next(now: .zero)
        // Timeout of the blocking query: same index, same data.
        #expect(machine.received(index: 5, instances: [Self.instance("a")]).update == nil)
        _ = machine.next(now: .zero)
        // Another write woke the query: new index, same membership.
        #expect(machine.received(index: 6, instances: [Self.instance("a")]).update == nil)
        _ = machine.next(now: .zero)
        // Only a TTL note changed.
        #expect(machine.received(index: 7, instances: [Self.instance("a", output: "pass at 12:00")]).update == nil)
        _ = machine.next(now: .zero)
        let changed = machine.received(index: 8, instances: [Self.instance("b"), Self.instance("a")])
        #expect(changed.update?.instances.map(\.id) == ["a", "b"])
        #expect(changed.update?.index == 8)
    }

    @Test func anIndexThatGoesBackResetsToZero() {
        var machine = Self.machine(burst: 10)
        _ = machine.next(now: .zero)
        _ = machine.received(index: 100, instances: [Self.instance("a")])
        #expect(machine.next(now: .zero) == .query(index: 100))
        let received = machine.received(index: 3, instances: [Self.instance("a")])
        #expect(received.indexWentBack)
        #expect(received.update == nil)
        #expect(machine.next(now: .zero) == .query(index: 0))
        _ = machine.received(index: 4, instances: [Self.instance("a")])
        #expect(machine.next(now: .zero) == .query(index: 4))
    }

    @Test func anIndexOfZeroIsNeverSentOnceThereIsOne() {
        var machine = Self.machine(burst: 10)
        _ = machine.next(now: .zero)
        let first = machine.received(index: 0, instances: [])
        #expect(first.indexWentBack == false)
        #expect(machine.next(now: .zero) == .query(index: 1))
        // 1 → 0 goes back: reset; the reset query then answers at once with a real index.
        _ = machine.received(index: 0, instances: [])
        #expect(machine.next(now: .zero) == .query(index: 0))
    }

    @Test func tokenBucketAllowsABurstThenPacesQueries() {
        var machine = Self.machine(burst: 2, refill: .seconds(1))
        #expect(machine.next(now: .zero) == .query(index: 0))
        _ = machine.received(index: 1, instances: [])
        #expect(machine.next(now: .zero) == .query(index: 1))
        _ = machine.received(index: 2, instances: [])
        #expect(machine.next(now: .zero) == .wait(until: .seconds(1)))
        #expect(machine.next(now: .milliseconds(400)) == .wait(until: .seconds(1)))
        #expect(machine.next(now: .seconds(1)) == .query(index: 2))
        _ = machine.received(index: 3, instances: [])
        // A long blocking round refills the bucket, up to the burst only.
        #expect(machine.next(now: .seconds(60)) == .query(index: 3))
        _ = machine.received(index: 4, instances: [])
        #expect(machine.next(now: .seconds(60)) == .query(index: 4))
        _ = machine.received(index: 5, instances: [])
        #expect(machine.next(now: .seconds(60)) == .wait(until: .seconds(61)))
    }

    @Test func backoffGrowsWithTheSquareOfFailuresUpToTheCap() {
        var machine = Self.machine(burst: 100)
        var backoffs: [Duration] = []
        var now = Duration.zero
        for _ in 0..<8 {
            guard case .query = machine.next(now: now) else {
                Issue.record("expected a query at \(now)")
                return
            }
            let backoff = machine.failed(now: now)
            backoffs.append(backoff)
            #expect(machine.next(now: now) == .wait(until: now + backoff))
            now += backoff
        }
        #expect(backoffs == [5, 20, 45, 80, 125, 180, 180, 180].map { Duration.seconds($0) })
        #expect(machine.failures == 8)
    }

    @Test func anAnswerAfterFailuresResetsTheBackoffAndKeepsTheIndex() {
        var machine = Self.machine(burst: 100)
        _ = machine.next(now: .zero)
        _ = machine.received(index: 9, instances: [Self.instance("a")])
        _ = machine.next(now: .zero)
        _ = machine.failed(now: .zero)
        #expect(machine.next(now: .seconds(5)) == .query(index: 9))
        _ = machine.failed(now: .seconds(5))
        #expect(machine.next(now: .seconds(25)) == .query(index: 9))
        let received = machine.received(index: 11, instances: [Self.instance("a"), Self.instance("b")])
        #expect(received.recoveredAfterFailures == 2)
        #expect(received.update?.instances.count == 2)
        #expect(machine.failures == 0)
        _ = machine.next(now: .seconds(25))
        #expect(machine.failed(now: .seconds(25)) == .seconds(5))
    }

    @Test func customBackoffIsHonoured() {
        var configuration = HealthWatch.Configuration()
        configuration.backoffBase = .milliseconds(10)
        configuration.backoffCap = .milliseconds(50)
        var machine = Machine(configuration: configuration)
        _ = machine.next(now: .zero)
        #expect(machine.failed(now: .zero) == .milliseconds(10))
        _ = machine.next(now: .seconds(1))
        #expect(machine.failed(now: .seconds(1)) == .milliseconds(40))
        _ = machine.next(now: .seconds(2))
        #expect(machine.failed(now: .seconds(2)) == .milliseconds(50))
    }
}
