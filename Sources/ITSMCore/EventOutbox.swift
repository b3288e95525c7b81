/// An event waiting in the outbox to be published.
public struct OutboxEntry: Sendable, Equatable {
    public let id: Int
    public let eventID: String
    public let routingKey: String
    public let payload: [UInt8]

    public init(id: Int, eventID: String, routingKey: String, payload: [UInt8]) {
        self.id = id
        self.eventID = eventID
        self.routingKey = routingKey
        self.payload = payload
    }
}

/// What publishing a batch came to: the entries the broker confirmed, and the others with why.
public struct PublishReport: Sendable, Equatable {
    public var confirmed: [Int] = []
    public var failed: [Failure] = []

    public struct Failure: Sendable, Equatable {
        public let id: Int
        public let reason: String

        public init(id: Int, reason: String) {
            self.id = id
            self.reason = reason
        }
    }

    public init(confirmed: [Int] = [], failed: [Failure] = []) {
        self.confirmed = confirmed
        self.failed = failed
    }
}

/// The outbox as its relay sees it. Every effect's transaction queued its events here; the
/// relay publishes them after the commit.
public protocol EventOutbox: Sendable {
    /// Holds up to `limit` unpublished events that no other relay holds (oldest first), hands
    /// them to `publish`, and records its report: confirmed entries are marked published,
    /// failed ones keep their place with the reason. Several relays may run at once.
    func relay(limit: Int, _ publish: @Sendable ([OutboxEntry]) async -> PublishReport) async throws -> PublishReport

    /// Deletes the events handed to the relay by the transactions that wrote them
    /// (``OutboxSignal/hand(_:)``, which ``relay(limit:_:)`` does not take during their grace)
    /// once the broker confirmed them: nothing reads a published `ticket.created` again.
    func deletePublished(_ ids: [Int]) async throws

    /// Gives handed events the broker did not confirm to the poll at once, with the reason.
    func returnToPoll(_ failures: [PublishReport.Failure]) async throws
}

/// Where events go: the events exchange, with publisher confirms.
public protocol EventPublisher: Sendable {
    /// Returns once the broker confirmed the event; throws otherwise.
    func publish(_ entry: OutboxEntry) async throws
}
