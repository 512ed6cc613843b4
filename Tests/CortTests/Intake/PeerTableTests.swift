import Testing
@testable import Cort

@Suite struct PeerTableTests {
    static func id(_ name: String) -> [UInt8] { Array(name.utf8) }

    @Test func aFullTableForgetsTheIdleCallerHeardFromLongestAgo() {
        var peers = PeerTable(capacity: 2)
        let a = peers.heard(Self.id("a"), at: .seconds(1))
        let b = peers.heard(Self.id("b"), at: .seconds(2))
        _ = peers.heard(Self.id("a"), at: .seconds(3))
        let c = peers.heard(Self.id("c"), at: .seconds(4))
        #expect(c != nil && peers.count == 2)
        #expect(peers[b!] == nil, "b was heard from longest ago")
        #expect(peers[a!] != nil)
    }

    @Test func callersWithCallsAreNeverForgottenAndANewcomerIsThenRefused() {
        var peers = PeerTable(capacity: 2)
        let a = peers.heard(Self.id("a"), at: .seconds(1))!
        let b = peers.heard(Self.id("b"), at: .seconds(2))!
        peers.acceptedCall(for: a)
        peers.acceptedCall(for: b)
        #expect(peers.heard(Self.id("c"), at: .seconds(3)) == nil)
        #expect(peers.count == 2)
        peers.releasedCall(for: a)
        let c = peers.heard(Self.id("c"), at: .seconds(4))
        #expect(c != nil)
        #expect(peers[a] == nil && peers[b] != nil)
    }

    @Test func aReusedSlotIsANewCaller() {
        var peers = PeerTable(capacity: 1)
        let a = peers.heard(Self.id("a"), at: .zero)!
        peers.remove(a)
        let b = peers.heard(Self.id("b"), at: .zero)!
        #expect(a.slot == b.slot && a != b)
        #expect(peers[a] == nil)
        peers.acceptedCall(for: a)
        #expect(peers[b]?.callCount == 0, "a stale reference changes nothing")
    }

    @Test func aCallerIsFoundByTheConnectionItLastUsed() {
        var peers = PeerTable(capacity: 4)
        let old = PeerTable.Connection(descriptor: 12, epoch: 1)
        let new = PeerTable.Connection(descriptor: 12, epoch: 2)
        let a = peers.heard(Self.id("a"), on: old, at: .zero)!
        #expect(peers.ref(on: old) == a)
        let b = peers.heard(Self.id("b"), on: new, at: .zero)!
        #expect(peers.ref(on: old) == a && peers.ref(on: new) == b)
        _ = peers.heard(Self.id("a"), on: PeerTable.Connection(descriptor: 14, epoch: 1), at: .zero)
        #expect(peers.ref(on: old) == nil, "a moved to another connection")
    }

    @Test func epochsTellConnectionsOnAReusedDescriptorApart() {
        var epochs = ConnectionEpochs()
        // The connection a frame read now over `descriptor` came over.
        func connection(of descriptor: Int32?) -> (connection: PeerTable.Connection, isOpen: Bool)? {
            [UInt8]([7]).withUnsafeBytes { epochs.frame(routingID: $0, on: descriptor).connection }
        }
        #expect(connection(of: nil) == nil)
        #expect(connection(of: 15) == nil, "no accept seen for the descriptor")
        epochs.accepted(15)
        #expect(connection(of: 15)?.connection == PeerTable.Connection(descriptor: 15, epoch: 1))
        #expect(connection(of: 15)?.isOpen == true)
        // The first connection drops and the descriptor is reused at once.
        #expect(epochs.disconnected(15) == PeerTable.Connection(descriptor: 15, epoch: 1))
        #expect(connection(of: 15)?.isOpen == false, "a frame read now came over the closed connection")
        epochs.accepted(15)
        #expect(connection(of: 15)?.connection.epoch == 2)
        #expect(connection(of: 15)?.isOpen == true)
        #expect(epochs.disconnected(15).epoch == 2)
    }

    @Test func aConnectionsRoutingIDIsKeptAndGivenBackOnlyForTheSameBytes() {
        var epochs = ConnectionEpochs()
        func read(_ bytes: [UInt8], on descriptor: Int32?) -> [UInt8] {
            bytes.withUnsafeBytes { epochs.frame(routingID: $0, on: descriptor).routingID }
        }
        func storage(_ bytes: [UInt8]) -> UnsafeRawPointer? { bytes.withUnsafeBytes { $0.baseAddress } }
        epochs.accepted(16)
        let first = read([0, 1, 2, 3, 4], on: 16)
        let second = read([0, 1, 2, 3, 4], on: 16)
        #expect(second == [0, 1, 2, 3, 4])
        #expect(storage(first) == storage(second), "the same bytes on the same connection give back the kept array")
        // Another id on the descriptor (a handover), or on no known connection: a copy of what was read.
        #expect(read([0, 9, 9, 9, 9], on: 16) == [0, 9, 9, 9, 9])
        #expect(read([0, 1, 2, 3, 4], on: 16) == [0, 1, 2, 3, 4])
        #expect(read([0, 7], on: 99) == [0, 7])
        #expect(read([0, 7], on: nil) == [0, 7])
        // A disconnect forgets it: the descriptor's next connection is another caller's.
        let kept = read([0, 1, 2, 3, 4], on: 16)
        _ = epochs.disconnected(16)
        epochs.accepted(16)
        let after = read([0, 1, 2, 3, 4], on: 16)
        #expect(after == [0, 1, 2, 3, 4])
        #expect(storage(after) != storage(kept))
    }

    @Test func ledgersAddUpInTheTotal() {
        var peers = PeerTable(capacity: 4)
        let a = peers.heard(Self.id("a"), at: .zero)!
        let b = peers.heard(Self.id("b"), at: .zero)!
        #expect(peers[a]!.ledger !== peers[b]!.ledger)
        #expect(peers.totalLedger.outstanding == 0)
    }

    @Test func aCallerThatDoesNotReadHasItsRequestsShedButOneEveryIntervalTried() {
        var peers = PeerTable(capacity: 4)
        let reader = peers.heard(Self.id("reader"), at: .zero)!
        let idle = peers.heard(Self.id("idle"), at: .zero)!
        func sheds(_ ref: PeerTable.Ref, atMilliseconds time: Int) -> Bool {
            peers.sheds(ref, at: .milliseconds(time), probingEvery: .milliseconds(10))
        }
        #expect(!sheds(reader, atMilliseconds: 0), "a caller that reads is never shed")
        peers.setNotReading(true, for: idle)
        #expect(peers.isNotReading(idle) && !peers.isNotReading(reader))
        let shed = [1000, 1009, 1010, 1011].map { sheds(idle, atMilliseconds: $0) }
        #expect(shed == [false, true, false, true], "a test, then one each 10 ms")
        // It reads again: nothing is shed; stopping again starts with a test.
        peers.setNotReading(false, for: idle)
        #expect(!sheds(idle, atMilliseconds: 1012))
        peers.setNotReading(true, for: idle)
        #expect([1013, 1014].map { sheds(idle, atMilliseconds: $0) } == [false, true])
        // A caller forgotten and replaced in its slot is not the one shed.
        peers.remove(idle)
        let newcomer = peers.heard(Self.id("newcomer"), at: .seconds(2))!
        #expect(!sheds(idle, atMilliseconds: 2000))
        let newcomerShed = peers.isNotReading(newcomer)
        #expect(!newcomerShed)
    }
}
