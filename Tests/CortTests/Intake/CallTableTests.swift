import Testing
@testable import Cort

@Suite struct CallTableTests {
    typealias Key = NodeServer.CallKey

    static let target = TargetCatalog.Target(actorType: "Echo", identifier: "echo", method: "echo(_:)",
                                             parameterCount: 1)

    static func call(_ id: UInt64, lane: Int = 1) -> NodeServer.AcceptedCall {
        NodeServer.AcceptedCall(
            request: CallRequest(id: id, service: "Echo", target: "echo", method: "echo(_:)", timeout: .seconds(1)),
            target: target, lane: lane, deadline: .seconds(1), routingID: [1], callerKey: nil, acceptedAt: .zero,
            instanceActor: nil)
    }

    @Test func aKeyIsInOnceAndItsSlotFindsItUntilItIsRemoved() {
        var calls = NodeServer.CallTable()
        let ada = PeerTable.Ref(slot: 0, generation: 1)
        let key = Key(peer: ada, id: 7)
        guard let slot = calls.insert(Self.call(7), for: key) else {
            Issue.record("the first call under a key was refused")
            return
        }
        #expect(calls.insert(Self.call(7, lane: 2), for: key) == nil, "a second call under the same key")
        #expect(calls[key]?.lane == 1, "the duplicate changed the call that was in")
        #expect(calls.count == 1)
        #expect(calls.call(at: slot, key: key)?.request.id == 7)
        calls.call(at: slot, key: key)?.silenced = true
        #expect(calls[key]?.silenced == true)
        #expect(calls.remove(key)?.silenced == true)
        #expect(calls.remove(key) == nil)
        #expect(calls.call(at: slot, key: key) == nil, "a removed call's slot still finds it")
        #expect(calls.isEmpty)
        // The slot is reused; the old key does not find the new call.
        let other = Key(peer: ada, id: 8)
        #expect(calls.insert(Self.call(8), for: other) == slot)
        #expect(calls.call(at: slot, key: key) == nil)
        #expect(calls.call(at: slot, key: other)?.request.id == 8)
    }

    /// A caller's calls are listed through their slots, whichever are
    /// removed in between, and callers that held one peer slot one after
    /// another are told apart.
    @Test func eachCallersKeysAreListedApart() {
        var calls = NodeServer.CallTable()
        let ada = PeerTable.Ref(slot: 0, generation: 1)
        let bob = PeerTable.Ref(slot: 1, generation: 2)
        let later = PeerTable.Ref(slot: 0, generation: 3)  // ada's slot, after ada left
        for id in UInt64(1)...5 { _ = calls.insert(Self.call(id), for: Key(peer: ada, id: id)) }
        for id in UInt64(1)...3 { _ = calls.insert(Self.call(id), for: Key(peer: bob, id: id)) }
        _ = calls.insert(Self.call(1), for: Key(peer: later, id: 1))
        _ = calls.remove(Key(peer: ada, id: 3))   // the middle of ada's list
        _ = calls.remove(Key(peer: ada, id: 5))   // its head
        _ = calls.remove(Key(peer: ada, id: 1))   // its tail
        #expect(calls.calls(of: ada).map(\.key.id).sorted() == [2, 4])
        #expect(calls.calls(of: bob).map(\.key.id).sorted() == [1, 2, 3])
        #expect(calls.calls(of: later).map(\.key.id) == [1])
        #expect(calls.calls(of: PeerTable.Ref(slot: 9, generation: 4)).isEmpty)
        for id in [2, 4] as [UInt64] { _ = calls.remove(Key(peer: ada, id: id)) }
        #expect(calls.calls(of: ada).isEmpty)
        #expect(calls.calls(of: later).map(\.key.id) == [1])
        #expect(calls.count == 4)
    }
}
