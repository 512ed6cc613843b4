// The Swift snippets of the Operations article, compiled (see README.swift).
import Configuration
import Cort

func configuredNode(discovery: any Discovery) throws -> CortSystem {
    // snippet: OPERATIONS-config
    // CORT_NAME=orders-1 CORT_ENDPOINT=tcp://0.0.0.0:5555 CORT_HEARTBEAT_INTERVAL=250ms CORT_LOG_LEVEL=info ./orders
    let config = ConfigReader(provider: EnvironmentVariablesProvider()).scoped(to: "cort")
    var configuration = try CortSystem.Configuration(config: config, discovery: discovery)
    configuration.defaultTimeout = .seconds(2)   // set in code: the environment does not change it
    let node = try CortSystem.start(configuration)
    // end snippet
    return node
}
