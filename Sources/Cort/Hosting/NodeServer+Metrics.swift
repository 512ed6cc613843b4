extension NodeServer {
    /// Records a lane's load (calls waiting, replicas busy) when it changed
    /// since it was last recorded: after its calls were started, and after
    /// a waiting call was dropped.
    func recordLoad(of lane: Int) {
        guard let metrics = lanes[lane].metrics else { return }
        // Calls handed to the pool wait there for a worker: they are waiting, not running.
        let handedOn = lanes[lane].handedOn
        let load = (waiting: lanes[lane].queue.count + handedOn, busy: lanes[lane].inFlight - handedOn)
        if load.waiting != lanes[lane].recordedLoad.waiting { metrics.queueDepth.set(load.waiting) }
        if load.busy != lanes[lane].recordedLoad.busy { metrics.busyReplicas.set(load.busy) }
        lanes[lane].recordedLoad = load
    }
}
