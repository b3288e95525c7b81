import ITSMAMQP

extension WorkerTopology {
    /// The topology the configuration names.
    public init(_ configuration: WorkerConfiguration) {
        self.init(queuePrefix: configuration.queuePrefix, alertsExchange: configuration.alertsExchange, eventsExchange: configuration.eventsExchange,
                  queueType: configuration.queueType, deliveryLimit: configuration.deliveryLimit, retryDelays: configuration.retryDelays)
    }
}
