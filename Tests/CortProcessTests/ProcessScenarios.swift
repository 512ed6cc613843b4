import Testing

/// The suites that run node processes, one test at a time: each scenario
/// runs four processes on a 2-core machine, and two at once would starve
/// each other's heartbeats (and skew each other's figures).
@Suite(.serialized)
enum ProcessScenarios {}
