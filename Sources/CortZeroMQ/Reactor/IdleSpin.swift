/// How long a reactor's loop polls without sleeping, before it sleeps,
/// while answers to calls it sent are awaited: the haltpoll rule of Linux's
/// cpuidle governor for virtual machines (`drivers/cpuidle/governors/haltpoll.c`),
/// applied to one thread instead of one CPU.
///
/// Waking a thread that sleeps costs the wake-up of its CPU, and on a
/// virtual machine whose CPU halted, that is about 25 µs (measured with
/// `Benchmarks/scripts/wake-pingpong.c`), a quarter of a round trip on
/// loopback. A loop that expects an answer within a short while polls for
/// it instead, for at most ``window``; the window adapts to how long the
/// loop actually stayed idle:
///
/// - idle longer than the window but no longer than ``maximum``: polling a
///   little longer would have caught it, so the window doubles (from
///   ``growStart`` at least), up to ``maximum``;
/// - idle longer than ``maximum``: polling was wasted, so the window halves
///   (and below ``growStart`` it is dropped to zero).
///
/// So a caller waiting on answers that come back within 200 µs keeps its
/// thread on the CPU between them, and one whose answers take milliseconds
/// stops polling after a few of them. No I/O: tested on numbers.
package struct IdleSpin: Sendable, Equatable {
    /// The longest window (haltpoll's `guest_halt_poll_ns` default).
    package var maximum: Duration
    /// The first window after none (haltpoll's `guest_halt_poll_grow_start`).
    package var growStart: Duration
    /// How long the loop polls before it sleeps now.
    package private(set) var window: Duration = .zero

    package init(maximum: Duration = .microseconds(200), growStart: Duration = .microseconds(50)) {
        self.maximum = maximum
        self.growStart = min(growStart, maximum)
    }

    /// The loop was idle for `idle` (polling, then sleeping) before
    /// something arrived; adjusts the window as haltpoll does.
    package mutating func idled(for idle: Duration) {
        if idle > window && idle <= maximum {
            window = min(max(window * 2, growStart), maximum)
        } else if idle > maximum {
            window = window / 2
            if window < growStart { window = .zero }
        }
    }
}
