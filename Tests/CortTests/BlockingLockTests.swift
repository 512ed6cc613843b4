import Foundation
import Testing
@testable import Cort

@Suite struct BlockingLockTests {
    /// A try-lock runs its body when the lock is free, and runs nothing
    /// (nil) while another thread holds it; once let go, the lock is free
    /// again and the value is as the holder left it.
    @Test func aTryLockRunsOnlyWhenTheLockIsFree() {
        let lock = BlockingLock(0)
        #expect(lock.withLockIfAvailable { value -> Int in value += 1; return value } == 1)

        let (held, release, done) = (DispatchSemaphore(value: 0), DispatchSemaphore(value: 0), DispatchSemaphore(value: 0))
        let holder = Thread {
            lock.withLock { value in
                value += 10
                held.signal()
                // Bounded: a failing test below lets go within its deadline.
                _ = release.wait(timeout: .now() + 30)
            }
            done.signal()
        }
        holder.start()
        #expect(held.wait(timeout: .now() + 30) == .success)
        var ran = false
        let whileHeld = lock.withLockIfAvailable { value -> Int in ran = true; return value }
        #expect(whileHeld == nil)
        #expect(!ran)

        release.signal()
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(lock.withLockIfAvailable { value -> Int in value += 1; return value } == 12)
    }
}
