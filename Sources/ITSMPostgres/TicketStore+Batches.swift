import Coordination
import Foundation
import ITSMCore
import Postgres

/// A claim for a new alert, as ``TicketStore/claim(event:table:workerID:lease:)`` sends it.
struct ClaimRequest: Sendable {
    let event: AlertEvent
    let table: String
    let workerID: String
    let lease: Double
}

/// A created ticket to store, as ``TicketStore/completeCreation`` sends it.
struct CompletionRequest: Sendable {
    let link: TicketLink
    let workerID: String
    let ticket: TicketEvent.Ticket
    let sysUpdatedOn: String?
    let warnings: [String]
    /// For the `jsonb` column; almost always none, which needs no encoder.
    var warningsJSON: String {
        get throws { warnings.isEmpty ? "[]" : String(decoding: try JSONEncoder().encode(warnings), as: UTF8.self) }
    }
    let event: AlertEvent
    let outgoing: TicketEvent
    /// The event as the outbox stores it and the relay publishes it, encoded once.
    let payload: String
    /// Seconds before the relay's poll may take the outbox row: zero, or the grace of an event
    /// this process hands to its own relay.
    let handoffGrace: Double
}

/// A stored creation: the ticket, whether a status event waits for it, and its `ticket.created`
/// row in the outbox.
struct Completion: Sendable {
    let link: TicketLink
    let statusWaiting: Bool
    let outboxID: Int

    init(_ row: PostgresRow) throws {
        link = try TicketLink(row)
        statusWaiting = try row["status_waiting"].bool()
        outboxID = try row["outbox_id"].int()
    }
}

extension TicketStore {
    /// Claims, in one statement, every alert of the batch seen for the first time whose event was
    /// not processed yet: no link at all means generation 0 and nothing to look up. The others
    /// get nil and take the claim transaction: an alert with a link, a processed event, a
    /// concurrent claim that inserted first, or a second claim for one alert in the batch.
    ///
    /// With storm protection on, each new link also takes one of its network's new incidents this
    /// minute; those past the limit get nil too, and the claim transaction makes them storm members.
    static func claimFirst(_ batch: [ClaimRequest], stormLimit: Int, pool: PostgresPool) async throws -> [Result<TicketLink?, any Error>] {
        do {
            return try await claimFirstTogether(batch, stormLimit: stormLimit, pool: pool)
        } catch let error as PostgresError where !error.storeUnavailable && batch.count > 1 {
            // One request's bad value fails only its own message, as it would alone.
            var results: [Result<TicketLink?, any Error>] = []
            for request in batch {
                results.append(await Result { try await claimFirstTogether([request], stormLimit: stormLimit, pool: pool)[0].get() })
            }
            return results
        }
    }

    private static func claimFirstTogether(_ batch: [ClaimRequest], stormLimit: Int, pool: PostgresPool) async throws -> [Result<TicketLink?, any Error>] {
        var seen = Set<[String]>()
        let leads = batch.map { seen.insert([$0.event.customerID, $0.event.alert.id]).inserted }
        let sent = zip(batch, leads).filter(\.1).map(\.0)
        let input = """
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::float8[])
                WITH ORDINALITY AS i(customer_id, network_id, alert_id, alert_type, correlation_id, target_table, worker_id, event_id, lease, position)
            """
        let fresh = """
            SELECT i.* FROM input i
            WHERE NOT EXISTS (SELECT 1 FROM ticket_links t WHERE t.customer_id = i.customer_id AND t.alert_id = i.alert_id)
              AND NOT EXISTS (SELECT 1 FROM processed_events p WHERE p.customer_id = i.customer_id AND p.event_id = i.event_id)
            """
        // Storm protection: the batch's new incidents per network are added to the network's
        // count for this minute (the upsert's row lock orders concurrent batches), and only those
        // still within the limit are claimed.
        let admitted = stormLimit <= 0 ? "SELECT * FROM fresh" : """
            SELECT f.* FROM (
                SELECT fresh.*, row_number() OVER (PARTITION BY customer_id, network_id ORDER BY position) AS rank FROM fresh
            ) f
            JOIN wanted w USING (customer_id, network_id)
            JOIN budget b USING (customer_id, network_id)
            WHERE b.opened - w.n + f.rank <= \(stormLimit)
            """
        let budget = stormLimit <= 0 ? "" : """
            , wanted AS (
                SELECT customer_id, network_id, count(*)::int AS n FROM fresh GROUP BY customer_id, network_id
            ), taken AS (
                \(Self.takeBudget(count: "w.n", from: "wanted w"))
            ), budget AS (
                \(Self.budgetUsed)
            )
            """
        let rows = try await pool.query("""
            WITH input AS (\(input)), fresh AS (\(fresh))\(budget), admitted AS (\(admitted))
            INSERT INTO ticket_links (customer_id, network_id, alert_id, alert_type, correlation_id, target_table, status,
                                      create_attempts, claimed_by, claim_expires_at)
            SELECT a.customer_id, a.network_id, a.alert_id, a.alert_type, a.correlation_id, a.target_table, 'pending',
                   1, a.worker_id, now() + make_interval(secs => a.lease)
            FROM admitted a
            ON CONFLICT (customer_id, alert_id) WHERE status IN ('pending', 'open') DO NOTHING
            RETURNING *
            """, [.array(sent.map { $0.event.customerID }), .array(sent.map { $0.event.networkID }), .array(sent.map { $0.event.alert.id }),
                  .array(sent.map { $0.event.alert.type }),
                  .array(sent.map { TicketLink.correlationID(customerID: $0.event.customerID, alertID: $0.event.alert.id, generation: 0) }),
                  .array(sent.map { $0.table }), .array(sent.map { $0.workerID }), .array(sent.map { $0.event.eventID }), .array(sent.map { String($0.lease) })])
        var claimed: [[String]: TicketLink] = [:]
        for row in rows {
            let link = try TicketLink(row)
            claimed[[link.customerID, link.alertID]] = link
        }
        return zip(batch, leads).map { request, lead in
            .success(lead ? claimed[[request.event.customerID, request.event.alert.id]] : nil)
        }
    }

    /// Stores the batch's created tickets, marks their events processed and queues their
    /// `ticket.created`, in one statement; nil for a request whose claim is no longer its
    /// worker's. When the statement fails for a batch of several (one row's conflict), each is
    /// tried alone, so the others are not held back by it.
    static func complete(_ batch: [CompletionRequest], pool: PostgresPool) async throws -> [Result<Completion?, any Error>] {
        guard batch.count > 1 else { return [await Result { try await completeAlone(batch[0], pool: pool) }] }
        let rows: [PostgresRow]
        do {
            rows = try await pool.query("""
                WITH input AS (
                    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                                         $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::float8[])
                        AS i(link_id, worker_id, sys_id, number, url, state, sys_updated_on, warnings,
                             event_id, customer_id, event_type, outbox_event_id, routing_key, payload, handoff_grace)
                ), updated AS (
                    UPDATE ticket_links t
                    SET status = 'open', sys_id = i.sys_id, number = i.number, url = i.url, state = i.state, sys_updated_on = i.sys_updated_on,
                        warnings = i.warnings::jsonb, claimed_by = NULL, claim_expires_at = NULL, updated_at = now()
                    FROM input i
                    WHERE t.id = i.link_id AND t.claimed_by = i.worker_id AND t.status = 'pending'
                    RETURNING t.*
                ), processed AS (
                    INSERT INTO processed_events (event_id, customer_id, event_type, outcome)
                    SELECT i.event_id, i.customer_id, i.event_type, 'ticket_created' FROM input i JOIN updated u ON u.id = i.link_id
                ), queued AS (
                    INSERT INTO outbox (event_id, routing_key, payload, relay_after)
                    SELECT i.outbox_event_id::uuid, i.routing_key, i.payload::jsonb, now() + make_interval(secs => i.handoff_grace)
                    FROM input i JOIN updated u ON u.id = i.link_id
                    RETURNING id, event_id
                )
                SELECT updated.*, q.id AS outbox_id, EXISTS (
                    SELECT 1 FROM status_events
                    WHERE status_events.customer_id = updated.customer_id AND status_events.alert_id = updated.alert_id AND applied_at IS NULL
                ) AS status_waiting
                FROM updated JOIN input i ON i.link_id = updated.id JOIN queued q ON q.event_id = i.outbox_event_id::uuid
                """, [.array(batch.map { String($0.link.id) }), .array(batch.map { $0.workerID }), .array(batch.map { $0.ticket.sysID }),
                      .array(batch.map { $0.ticket.number }), .array(batch.map { $0.ticket.url }), .array(batch.map { $0.ticket.state }),
                      .array(batch.map { $0.sysUpdatedOn }), .array(try batch.map { try $0.warningsJSON }),
                      .array(batch.map { $0.event.eventID }), .array(batch.map { $0.event.customerID }), .array(batch.map { $0.event.kind.rawValue }),
                      .array(batch.map { $0.outgoing.eventID }), .array(batch.map { $0.outgoing.type.rawValue }), .array(batch.map(\.payload)),
                      .array(batch.map { String($0.handoffGrace) })])
        } catch let error as PostgresError where !error.storeUnavailable {
            var results: [Result<Completion?, any Error>] = []
            for request in batch { results.append(await Result { try await completeAlone(request, pool: pool) }) }
            return results
        }
        var completed: [Int: Completion] = [:]
        for row in rows {
            let completion = try Completion(row)
            completed[completion.link.id] = completion
        }
        return batch.map { .success(completed[$0.link.id]) }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
