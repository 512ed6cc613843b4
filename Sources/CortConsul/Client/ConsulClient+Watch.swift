extension ConsulClient {
    /// A watch of the passing instances of `service` (see ``HealthWatch``).
    ///
    /// ```swift
    /// for await update in client.healthWatch(service: "greeter") {
    ///     print(update.instances.count, "instances at index", update.index)
    /// }
    /// ```
    public func healthWatch(
        service: String,
        configuration: HealthWatch.Configuration = HealthWatch.Configuration(),
        clock: some Clock<Duration> = ContinuousClock()
    ) -> HealthWatch {
        HealthWatch(client: self, service: service, configuration: configuration, clock: clock)
    }
}
