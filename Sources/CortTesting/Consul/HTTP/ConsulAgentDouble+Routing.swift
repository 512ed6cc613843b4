#if ConsulAgentDouble
import Foundation
internal import FlyingFox

/// The HTTP side: each request is recorded, mapped to an event or a query on
/// the state, and answered the way the agent answers it.
extension ConsulAgentDouble {
    /// One parsed request, as the routes need it.
    struct Incoming: Sendable {
        var method: String
        var path: String
        var query: [(name: String, value: String)]
        var headers: [String: String]
        var body: [UInt8]
        var bodyTooLarge: Bool

        func first(_ name: String) -> String? { query.first { $0.name == name }?.value }
        func all(_ name: String) -> [String] { query.filter { $0.name == name }.map(\.value) }
        func has(_ name: String) -> Bool { query.contains { $0.name == name } }
    }

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        var headers: [String: String] = [:]
        for (name, value) in request.headers { headers[name.rawValue.lowercased()] = value }
        var body: [UInt8] = []
        var tooLarge = false
        do {
            for try await chunk in request.bodySequence {
                if body.count + chunk.count > configuration.maximumBodySize {
                    tooLarge = true
                    body = []
                    break
                }
                body += chunk
            }
        } catch {
            return AgentAnswer.aborted.response
        }
        let incoming = Incoming(
            method: request.method.rawValue,
            path: request.target.path(percentEncoded: false),
            query: Self.parseQuery(request.target.query()),
            headers: headers, body: body, bodyTooLarge: tooLarge
        )
        let sequence = record(incoming)
        configuration.logger.debug("consul double request", metadata: [
            "method": "\(incoming.method)", "path": "\(incoming.path)",
        ])
        let answer = await answer(incoming)
        core.withLock { core in
            let position = Int(sequence) - (core.requestSequence - core.requests.count)
            if core.requests.indices.contains(position) { core.requests[position].status = answer.abort ? 0 : answer.status }
        }
        return answer.response
    }

    private func record(_ incoming: Incoming) -> Int {
        core.withLock { core in
            core.requests.append(RecordedRequest(
                method: incoming.method, path: incoming.path, query: incoming.query,
                headers: incoming.headers, body: incoming.body, status: 0))
            if core.requests.count > configuration.requestLogLimit { core.requests.removeFirst() }
            defer { core.requestSequence += 1 }
            return core.requestSequence
        }
    }

    /// Go's `url.ParseQuery`, which is what the agent reads: `+` is a
    /// space, percent escapes are decoded, a pair that does not decode is
    /// dropped.
    static func parseQuery(_ raw: String) -> [(name: String, value: String)] {
        raw.split(separator: "&", omittingEmptySubsequences: true).compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String? {
                text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            }
            guard let name = decode(parts[0]), let value = parts.count > 1 ? decode(parts[1]) : "" else { return nil }
            return (name, value)
        }
    }

    private func answer(_ request: Incoming) async -> AgentAnswer {
        let faults = core.withLock { $0.faults }
        if faults.delay > .zero {
            do { try await clock.sleepUntil(clock.elapsed() + faults.delay) } catch { return .aborted }
        }
        if faults.rateLimited { return .text(429, "rate limit exceeded, try again later") }
        guard let route = Route(path: request.path) else { return .text(404, "404 page not found") }
        let allowed = route.method
        if request.method == "OPTIONS" { return AgentAnswer(status: 200, headers: [("Allow", "OPTIONS,\(allowed)")]) }
        guard request.method == allowed else {
            return .text(405, "method \(request.method) not allowed", headers: [("Allow", "OPTIONS,\(allowed)")])
        }
        switch route {
        case .register: return register(request)
        case .deregister(let id):
            if let denied = aclDenial(request) { return denied }
            return result(update { state, now in state.deregister(serviceID: id, now: now) })
        case .ttl(let status, let id):
            if let denied = aclDenial(request) { return denied }
            let note = request.first("note") ?? ""
            return result(update { state, now in state.updateTTL(checkID: id, status: status, output: note, now: now) })
        case .update(let id): return updateCheck(id, request)
        case .agentServices:
            if let denied = aclDenial(request) { return denied }
            return .json(update { state, _ in state.agentServices() })
        case .health(let name): return await health(name, request, noLeader: faults.noLeader)
        case .catalogServices: return await catalogServices(request, noLeader: faults.noLeader)
        case .statusLeader:
            let node = configuration.node
            return .json(faults.noLeader ? "" : "\(node.address):8300")
        }
    }

    private func result(_ result: Result<Void, ConsulAgentState.Failure>) -> AgentAnswer {
        switch result {
        case .success: .empty
        case .failure(let failure): .text(failure.status, failure.message)
        }
    }

    /// The token check when ACLs are on: `X-Consul-Token`, else
    /// `Authorization: Bearer`; never `?token=`.
    func aclDenial(_ request: Incoming) -> AgentAnswer? {
        guard let expected = core.withLock({ $0.faults.aclToken }) else { return nil }
        var token = request.headers["x-consul-token"] ?? ""
        if token.isEmpty, let authorization = request.headers["authorization"] {
            let parts = authorization.split(separator: " ", omittingEmptySubsequences: false)
            if parts.count == 2 && parts[0].lowercased() == "bearer" { token = String(parts[1]) }
        }
        if token.isEmpty { return .text(403, "Permission denied") }
        if token != expected { return .text(403, "ACL not found") }
        return nil
    }

    private func register(_ request: Incoming) -> AgentAnswer {
        if request.bodyTooLarge { return .text(400, "Request decode failed: http: request body too large") }
        let definition: ServiceDefinition
        switch ServiceDefinition.decode(request.body) {
        case .success(let decoded): definition = decoded
        case .failure(let failure): return .text(failure.status, failure.message)
        }
        if let denied = aclDenial(request) { return denied }
        let replace = request.first("replace-existing-checks").map { Self.goBool($0) ?? true } ?? false
        update { state, now in state.register(definition, replaceExistingChecks: replace, now: now) }
        return .empty
    }

    private func updateCheck(_ id: String, _ request: Incoming) -> AgentAnswer {
        if request.bodyTooLarge { return .text(400, "Request decode failed: http: request body too large") }
        // The agent decodes this body leniently: unknown fields are ignored.
        let status: String
        let output: String
        switch JSONBody.parse(request.body) {
        case .failure(let error): return .text(400, "Request decode failed: \(error.message)")
        case .success(let value):
            guard case .object(let object) = value else {
                return .text(400, "Request decode failed: json: cannot unmarshal \(value.goKind) into Go value of type agent.checkUpdate")
            }
            var fields: [String: JSONValue] = [:]
            for (key, value) in object { fields[key.lowercased()] = value }
            func text(_ key: String, _ field: String) throws(JSONFieldError) -> String {
                switch fields[key] {
                case nil, .null?: return ""
                case .string(let value)?: return value
                case let other?:
                    throw JSONFieldError(message:
                        "json: cannot unmarshal \(other.goKind) into Go struct field checkUpdate.\(field) of type string")
                }
            }
            do {
                status = try text("status", "Status")
                output = try text("output", "Output")
            } catch {
                return .text(400, "Request decode failed: \(error.message)")
            }
        }
        guard CheckStatus.isValid(status) else { return .text(400, "Invalid check status: '\(status)'") }
        if let denied = aclDenial(request) { return denied }
        return result(update { state, now in state.updateTTL(checkID: id, status: status, output: output, now: now) })
    }

    /// Go's `strconv.ParseBool`.
    static func goBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": true
        case "0", "f", "F", "FALSE", "false", "False": false
        default: nil
        }
    }
}

#endif
