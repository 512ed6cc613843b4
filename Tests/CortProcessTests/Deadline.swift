/// What `body` returns, or nil when `timeout` passes first; `body` is then
/// cancelled (a `Subprocess.run` in it kills its child). The sleep is the
/// deadline, not a wait for a condition. What `body` throws is rethrown.
func withDeadline<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next() ?? nil
    }
}
