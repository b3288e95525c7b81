import Coordination
import Foundation
import ITSMCore
import Postgres

/// Ticket links, processed events and the outbox, with the transactions that keep them in step.
public struct TicketStore: TicketRepository {
    let pool: PostgresPool
    /// Woken right after every commit here that queued an event, so the event goes out while
    /// the handler is still settling its message (looking for waiting status events,
    /// acknowledging). Nil for commands that publish what they queued themselves.
    let outbox: OutboxSignal?
    /// The two statements every new alert runs, claim and completion, each batched with those
    /// of concurrent alerts (see ``Coalescer``).
    let claims: Coalescer<ClaimRequest, TicketLink?>
    let completions: Coalescer<CompletionRequest, Completion?>
    let storm: StormProtection

    public init(pool: PostgresPool, outbox: OutboxSignal? = nil, storm: StormProtection = .off) {
        self.pool = pool
        self.outbox = outbox
        self.storm = storm
        let stormLimit = storm.maxNewPerMinute
        claims = Coalescer(leaders: 1, linger: Self.batchLinger) { try await Self.claimFirst($0, stormLimit: stormLimit, pool: pool) }
        completions = Coalescer(leaders: 1, linger: Self.batchLinger) { try await Self.complete($0, pool: pool) }
    }

    /// How long a busy worker's claim or completion waits for company before its statement
    /// goes. PostgreSQL spends about as much on a statement itself (its round, its commit) as
    /// on two of the rows it carries, so bigger batches are most of what the database can
    /// save; the wait is added to an alert's latency only while alerts arrive faster than one
    /// per linger. Scenario 1, three pairs against 2 ms: transactions per alert 1.01 → 0.80,
    /// PostgreSQL's CPU −15 %, the worker's −9 %; scenario 5 at 450 alerts/s, p50 6.3 → 8.0 ms
    /// and p99 10.7 → 13.1 ms. 4 ms saved more (0.72 transactions) for a p99 of 15.7 ms, too
    /// near the 20 ms an alert may take.
    static let batchLinger: Duration = .milliseconds(3)

    /// Whether the customer's event had its effect already. Event ids are the customer's: the
    /// same id from another customer is another event.
    public func isProcessed(_ event: AlertEvent) async throws -> Bool {
        !(try await pool.query("SELECT 1 FROM processed_events WHERE customer_id = $1 AND event_id = $2",
                               [.text(event.customerID), .text(event.eventID)])).isEmpty
    }

    /// Deletes processed event ids and published outbox rows older than `retention`; a
    /// redelivery older than that is no longer recognised as a duplicate. Returns the rows
    /// deleted.
    public func pruneHistory(olderThan retention: Duration) async throws -> Int {
        let seconds = PostgresValue.double(Double(retention.components.seconds))
        let events = try await pool.execute("DELETE FROM processed_events WHERE processed_at < now() - make_interval(secs => $1)", [seconds])
        let outbox = try await pool.execute("DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)", [seconds])
        return events + outbox
    }

    /// Claims the right to create the ticket for an alert, or reports its open ticket, or that
    /// the event was processed already.
    public func claim(event: AlertEvent, table: String, workerID: String, lease: Duration) async throws -> TicketClaim {
        let leaseSeconds = lease.seconds
        // The usual case, an unprocessed event of an alert seen for the first time, in one
        // statement batched with concurrent ones (see claimFirst). Anything else, the
        // transaction below sorts out.
        if let link = try await claims.submit(ClaimRequest(event: event, table: table, workerID: workerID, lease: leaseSeconds)) {
            return .claimed(link, mustLookUp: false)
        }
        return try await claimInTransaction(event: event, table: table, group: nil, workerID: workerID, lease: lease)
    }

    /// Stores the created ticket, marks the event processed and queues `ticket.created`, in one
    /// statement (so one round trip, and atomic); fails with ``LostClaim`` if the claim is no
    /// longer this worker's. `statusWaiting`: a status event for the alert was recorded before
    /// the statement began. One recorded later is not seen here, but its handler saw this claim
    /// and retries (``TicketLink/isBeingCreated(lease:now:)``), or saw the open ticket.
    public func completeCreation(link: TicketLink, workerID: String, ticket: TicketEvent.Ticket, sysUpdatedOn: String?,
                                 warnings: [String], event: AlertEvent, outgoing: TicketEvent) async throws -> (link: TicketLink, statusWaiting: Bool) {
        // The hot path's event skips the relay's poll (a transaction of four round trips): this
        // process's relay publishes it as handed and deletes its row once confirmed; the poll
        // takes the row only if that has not happened within the grace (this process died).
        let handing = outbox?.takesHandoffs ?? false
        let payload = String(decoding: outgoing.encoded(), as: UTF8.self)
        let request = CompletionRequest(link: link, workerID: workerID, ticket: ticket, sysUpdatedOn: sysUpdatedOn, warnings: warnings,
                                        event: event, outgoing: outgoing, payload: payload, handoffGrace: handing ? Self.handoffGrace : 0)
        guard let completed = try await completions.submit(request) else { throw LostClaim() }
        if handing {
            outbox?.hand(OutboxEntry(id: completed.outboxID, eventID: outgoing.eventID, routingKey: outgoing.type.rawValue,
                                     payload: Array(payload.utf8)))
        } else {
            outbox?.notify()
        }
        return (completed.link, completed.statusWaiting)
    }

    /// How long a handed event's row waits before the poll of any relay may take it: long
    /// enough for a broker's confirm under load (a confirm later than this makes a duplicate,
    /// which consumers drop by `event_id`), short enough that an event of a worker that died
    /// after its commit goes out within seconds.
    static let handoffGrace: Double = 10

    /// One completion on its own: what a batch falls back to when its statement fails, so that
    /// one bad row (a conflict) fails only its own alert.
    static func completeAlone(_ request: CompletionRequest, pool: PostgresPool) async throws -> Completion? {
        let (link, workerID, ticket, sysUpdatedOn, event, outgoing) = (request.link, request.workerID, request.ticket, request.sysUpdatedOn,
                                                                      request.event, request.outgoing)
        let rows = try await pool.query("""
            WITH updated AS (
                UPDATE ticket_links
                SET status = 'open', sys_id = $3, number = $4, url = $5, state = $6, sys_updated_on = $7, warnings = $8::jsonb,
                    claimed_by = NULL, claim_expires_at = NULL, updated_at = now()
                WHERE id = $1 AND claimed_by = $2 AND status = 'pending'
                RETURNING *
            ), processed AS (
                INSERT INTO processed_events (event_id, customer_id, event_type, outcome)
                SELECT $9, $10, $11, 'ticket_created' FROM updated
            ), queued AS (
                INSERT INTO outbox (event_id, routing_key, payload, relay_after)
                SELECT $12::uuid, $13, $14::jsonb, now() + make_interval(secs => $15) FROM updated
                RETURNING id
            )
            SELECT updated.*, (SELECT id FROM queued) AS outbox_id, EXISTS (
                SELECT 1 FROM status_events
                WHERE status_events.customer_id = updated.customer_id AND status_events.alert_id = updated.alert_id AND applied_at IS NULL
            ) AS status_waiting
            FROM updated
            """, [.int(link.id), .text(workerID), .text(ticket.sysID), .text(ticket.number), .text(ticket.url), .text(ticket.state),
                  .text(sysUpdatedOn), .json(try request.warningsJSON),
                  .text(event.eventID), .text(event.customerID), .text(event.kind.rawValue),
                  .text(outgoing.eventID), .text(outgoing.type.rawValue), .json(request.payload), .double(request.handoffGrace)])
        return try rows.first.map(Completion.init)
    }

    /// Extends this worker's claim right before a write to ServiceNow; `false` if another
    /// worker took it over meanwhile (then nothing may be written).
    public func renewClaim(link: TicketLink, workerID: String, lease: Duration) async throws -> Bool {
        try await pool.execute("""
            UPDATE ticket_links SET claim_expires_at = now() + make_interval(secs => $3)
            WHERE id = $1 AND claimed_by = $2 AND status = 'pending'
            """, [.int(link.id), .text(workerID), .double(lease.seconds)]) == 1
    }

    /// Gives the claim back after a retryable failure, so the retry can take it at once.
    public func release(link: TicketLink, workerID: String) async throws {
        try await pool.execute("""
            UPDATE ticket_links SET claimed_by = NULL, claim_expires_at = NULL, updated_at = now()
            WHERE id = $1 AND claimed_by = $2
            """, [.int(link.id), .text(workerID)])
    }

    /// Gives up on creating a ticket: the link is marked failed (a later alert may try anew), the
    /// event processed, and `ticket.failed` queued.
    public func failCreation(link: TicketLink?, event: AlertEvent, outgoing: TicketEvent) async throws {
        try await pool.withTransaction { connection in
            if let link {
                try await connection.execute("""
                    UPDATE ticket_links SET status = 'failed', claimed_by = NULL, claim_expires_at = NULL, updated_at = now()
                    WHERE id = $1 AND status = 'pending'
                    """, [.int(link.id)])
            }
            try await Self.markProcessed(connection, event: event, outcome: "ticket_failed")
            try await Self.enqueue(connection, outgoing)
        }
        outbox?.notify()
    }

    /// Marks an event processed with no other effect (skips, failures before any ticket).
    public func markProcessed(event: AlertEvent, outcome: String, outgoing: TicketEvent?) async throws {
        try await pool.withTransaction { connection in
            try await Self.markProcessed(connection, event: event, outcome: outcome)
            if let outgoing { try await Self.enqueue(connection, outgoing) }
        }
        if outgoing != nil { outbox?.notify() }
    }

    public func link(customerID: String, alertID: String) async throws -> TicketLink? {
        try await pool.query("SELECT * FROM ticket_links WHERE customer_id = $1 AND alert_id = $2 ORDER BY id DESC LIMIT 1",
                             [.text(customerID), .text(alertID)]).first.map(TicketLink.init)
    }

    public func link(id: Int) async throws -> TicketLink? {
        try await pool.query("SELECT * FROM ticket_links WHERE id = $1", [.int(id)]).first.map(TicketLink.init)
    }

    public func links(customerID: String, alertID: String) async throws -> [TicketLink] {
        try await pool.query("SELECT * FROM ticket_links WHERE customer_id = $1 AND alert_id = $2 ORDER BY id",
                             [.text(customerID), .text(alertID)]).map(TicketLink.init)
    }

    public static func markProcessed(_ connection: PostgresConnection, event: AlertEvent, outcome: String) async throws {
        try await connection.execute("""
            INSERT INTO processed_events (event_id, customer_id, event_type, outcome) VALUES ($1, $2, $3, $4)
            """, [.text(event.eventID), .text(event.customerID), .text(event.kind.rawValue), .text(outcome)])
    }

    /// Writes an event to the outbox; the relay publishes it after the transaction commits.
    public static func enqueue(_ connection: PostgresConnection, _ event: TicketEvent) async throws {
        try await enqueue(connection, eventID: event.eventID, routingKey: event.type.rawValue, payload: event.encoded())
    }

    public static func enqueue(_ connection: PostgresConnection, eventID: String, routingKey: String, payload: Data) async throws {
        try await connection.execute("INSERT INTO outbox (event_id, routing_key, payload) VALUES ($1::uuid, $2, $3::jsonb)",
                                     [.text(eventID), .text(routingKey), .json(String(decoding: payload, as: UTF8.self))])
    }
}
