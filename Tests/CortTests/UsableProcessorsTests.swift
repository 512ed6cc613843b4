@testable import Cort
import Foundation
import Testing

@Suite struct UsableProcessorsTests {
    @Test func linuxCPUListsAreCounted() {
        #expect(UsableProcessors.cpuCount(list: "0") == 1)
        #expect(UsableProcessors.cpuCount(list: "\t0-1") == 2)
        #expect(UsableProcessors.cpuCount(list: "0-3,6,8-9") == 7)
        #expect(UsableProcessors.cpuCount(list: "") == nil)
        #expect(UsableProcessors.cpuCount(list: "3-1") == nil)
        #expect(UsableProcessors.cpuCount(list: "a-b") == nil)
        #expect(UsableProcessors.cpuCount(list: "1-2-3") == nil)
    }

    @Test func cgroupQuotasAreWholeCPUs() {
        #expect(UsableProcessors.quota(cpuMax: "max 100000\n") == nil)
        #expect(UsableProcessors.quota(cpuMax: "150000 100000\n") == 1)
        #expect(UsableProcessors.quota(cpuMax: "50000 100000") == 1)
        #expect(UsableProcessors.quota(cpuMax: "400000 100000") == 4)
        #expect(UsableProcessors.quota(cpuMax: "garbage") == nil)
        #expect(UsableProcessors.quota(cpuMax: "0 100000") == nil)
        #expect(UsableProcessors.cgroupPath("12:cpu:/\n0::/system.slice/app.service\n") == "/system.slice/app.service")
        #expect(UsableProcessors.cgroupPath("0::/\n") == "")
        #expect(UsableProcessors.cgroupPath("1:cpu:/\n") == nil)
    }

    @Test func theCountIsWithinTheMachines() throws {
        let online = ProcessInfo.processInfo.activeProcessorCount
        #expect(UsableProcessors.count >= 1 && UsableProcessors.count <= online)
        #if os(Linux)
        let allowed = try #require(UsableProcessors.affinityCount())
        #expect(allowed >= UsableProcessors.count || UsableProcessors.count == online)
        #endif
    }
}
