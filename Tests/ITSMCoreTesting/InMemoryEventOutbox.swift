import ITSMCore
import Synchronization

/// The twin of the outbox table: entries in order, each held by at most one relay at a time,
/// marked published or failed by the relay's report.
public final class InMemoryEventOutbox: EventOutbox {
    public struct Row: Sendable, Equatable {
        public let entry: OutboxEntry
        public var published = false
        public var attempts = 0
        public var lastError: String?
        /// A handed row: the poll leaves it until it is returned.
        public var handed = false
    }

    struct State {
        var rows: [Row] = []
        var held: Set<Int> = []
        var lastID = 0
        var deleted = 0
        var deletes = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds a row; a handed one (its transaction gives it to the relay) is left by the poll.
    @discardableResult
    public func add(routingKey: String = "ticket.created", handed: Bool = false) -> OutboxEntry {
        state.withLock { state in
            state.lastID += 1
            let id = state.lastID
            let entry = OutboxEntry(id: id, eventID: "event-\(id)", routingKey: routingKey, payload: Array("{}".utf8))
            state.rows.append(Row(entry: entry, handed: handed))
            return entry
        }
    }

    public var rows: [Row] { state.withLock { $0.rows } }

    public func relay(limit: Int, _ publish: @Sendable ([OutboxEntry]) async -> PublishReport) async throws -> PublishReport {
        let batch: [OutboxEntry] = state.withLock { state in
            let free = state.rows.filter { !$0.published && !$0.handed && !state.held.contains($0.entry.id) }.prefix(limit).map(\.entry)
            state.held.formUnion(free.map(\.id))
            return Array(free)
        }
        guard !batch.isEmpty else { return PublishReport() }
        let report = await publish(batch)
        state.withLock { state in
            for index in state.rows.indices {
                let id = state.rows[index].entry.id
                if report.confirmed.contains(id) { state.rows[index].published = true }
                if let failure = report.failed.first(where: { $0.id == id }) {
                    state.rows[index].attempts += 1
                    state.rows[index].lastError = failure.reason
                }
            }
            state.held.subtract(batch.map(\.id))
        }
        return report
    }

    public func deletePublished(_ ids: [Int]) async throws {
        state.withLock { state in
            state.rows.removeAll { ids.contains($0.entry.id) }
            state.deleted += ids.count
            state.deletes += 1
        }
    }

    /// Rows deleted once published, and the calls that deleted them.
    public var deleted: Int { state.withLock { $0.deleted } }
    public var deletes: Int { state.withLock { $0.deletes } }

    public func returnToPoll(_ failures: [PublishReport.Failure]) async throws {
        state.withLock { state in
            for index in state.rows.indices {
                guard let failure = failures.first(where: { $0.id == state.rows[index].entry.id }) else { continue }
                state.rows[index].handed = false
                state.rows[index].attempts += 1
                state.rows[index].lastError = failure.reason
            }
        }
    }
}

/// A publisher that records what it was given and fails the event ids it is told to.
public final class RecordingPublisher: EventPublisher {
    public struct Refused: Error, CustomStringConvertible {
        public var description: String { "the broker did not confirm" }
    }

    private let state = Mutex<(published: [String], failing: Set<String>)>(([], []))

    public init() {}

    public var published: [String] { state.withLock { $0.published } }

    public func fail(eventIDs: Set<String>) {
        state.withLock { $0.failing = eventIDs }
    }

    public func publish(_ entry: OutboxEntry) async throws {
        try state.withLock { state in
            if state.failing.contains(entry.eventID) { throw Refused() }
            state.published.append(entry.eventID)
        }
    }
}
