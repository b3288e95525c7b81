/// What the confirm window needs to know of a publish.
protocol ConfirmablePublish {
    var exchange: String { get }
    var routingKey: String { get }
    var mandatory: Bool { get }
    /// The confirm (or room in the window) is due by then.
    var deadline: ContinuousClock.Instant { get }
}
