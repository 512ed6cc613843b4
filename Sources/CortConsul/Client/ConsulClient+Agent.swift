import Foundation

extension ConsulClient {
    /// Registers (or re-registers) a service with the agent.
    ///
    /// Re-registering the same ID replaces the definition and keeps each check's status;
    /// with `replaceExistingChecks` checks left out of `registration` are removed.
    ///
    /// - Throws: ``ConsulError``; the agent's validation errors are
    ///   ``ConsulError/Code/httpStatus`` 400 with its message (e.g. `Invalid Service Meta`).
    public func register(_ registration: ConsulServiceRegistration, replaceExistingChecks: Bool = false) async throws(ConsulError) {
        guard !registration.name.isEmpty else {
            throw ConsulError(.invalidArgument, "a service registration needs a name")
        }
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(registration))
        } catch {
            throw ConsulError(.invalidArgument, "the registration of \(registration.name) cannot be encoded", cause: error)
        }
        let query = ConsulPath.queryString(replaceExistingChecks ? [("replace-existing-checks", nil)] : [])
        _ = try await send(request(.put, "/v1/agent/service/register\(query)", body: body))
    }

    /// Removes a service instance, and its checks, from the agent.
    ///
    /// - Throws: ``ConsulError``; an unknown ID is ``ConsulError/Code/httpStatus`` 404.
    public func deregister(serviceID: String) async throws(ConsulError) {
        try Self.requireNonEmpty(serviceID, "service ID")
        _ = try await send(request(.put, "/v1/agent/service/deregister/\(ConsulPath.segment(serviceID))"))
    }

    /// Marks a TTL check passing and restarts its TTL; `note` becomes its output.
    ///
    /// - Throws: ``ConsulError``; when the agent no longer knows the check (it restarted),
    ///   ``ConsulError/requiresRegistration`` is `true`: register again, then pass.
    public func passTTL(checkID: String, note: String? = nil) async throws(ConsulError) {
        try await ttl("pass", checkID: checkID, note: note)
    }

    /// Marks a TTL check warning and restarts its TTL (`?passing` queries then leave the
    /// instance out).
    public func warnTTL(checkID: String, note: String? = nil) async throws(ConsulError) {
        try await ttl("warn", checkID: checkID, note: note)
    }

    /// Marks a TTL check critical and restarts its TTL.
    public func failTTL(checkID: String, note: String? = nil) async throws(ConsulError) {
        try await ttl("fail", checkID: checkID, note: note)
    }

    /// Sets a TTL check's status and output in one call (`PUT /v1/agent/check/update/<id>`).
    public func updateTTL(checkID: String, status: ConsulCheckStatus, output: String? = nil) async throws(ConsulError) {
        try Self.requireNonEmpty(checkID, "check ID")
        struct Update: Encodable {
            var Status: String
            var Output: String?
        }
        let body: [UInt8]
        do {
            body = Array(try JSONEncoder().encode(Update(Status: status.rawValue, Output: output)))
        } catch {
            throw ConsulError(.invalidArgument, "the update of check \(checkID) cannot be encoded", cause: error)
        }
        _ = try await send(request(.put, "/v1/agent/check/update/\(ConsulPath.segment(checkID))", body: body))
    }

    private func ttl(_ verb: String, checkID: String, note: String?) async throws(ConsulError) {
        try Self.requireNonEmpty(checkID, "check ID")
        let query = ConsulPath.queryString(note.map { [("note", $0)] } ?? [])
        _ = try await send(request(.put, "/v1/agent/check/\(verb)/\(ConsulPath.segment(checkID))\(query)"))
    }

    static func requireNonEmpty(_ value: String, _ what: String) throws(ConsulError) {
        if value.isEmpty { throw ConsulError(.invalidArgument, "the \(what) is empty") }
    }
}
