extension Discovery {
    /// Throws ``DiscoveryError/Code/unsupported``: a backend lists its
    /// services only when it implements this itself, so backends written
    /// before ``Discovery/services()`` existed keep compiling.
    public func services() async throws -> [String] {
        throw DiscoveryError(.unsupported, "\(type(of: self)) cannot list its services")
    }

    /// The service's current instances, once: the first list
    /// ``Discovery/watch(service:)`` yields, after which the watch is closed.
    ///
    /// ```swift
    /// let nodes = try await discovery.instances(of: "greeter", within: .seconds(5))
    /// print(nodes.map(\.endpoint))   // ["tcp://10.0.0.5:5555", "tcp://10.0.0.6:5555"]
    /// ```
    ///
    /// - Throws: the watch's error; ``DiscoveryError/Code/unavailable`` when
    ///   no list comes within `timeout`, or the watch ends without one.
    public func instances(of service: String, within timeout: Duration) async throws -> [ServiceInstance] {
        let watch = watch(service: service)
        return try await withThrowingTaskGroup(of: [ServiceInstance]?.self) { group in
            group.addTask {
                for try await list in watch { return list }
                throw DiscoveryError(.unavailable, "the watch of service \"\(service)\" ended without a list")
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let list = first else {
                throw DiscoveryError(.unavailable, "discovery gave no list of service \"\(service)\" within \(timeout)")
            }
            return list
        }
    }
}
