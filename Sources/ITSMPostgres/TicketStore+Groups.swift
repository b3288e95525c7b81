import Foundation
import ITSMCore
import Postgres

/// Two workers opened a group's first incident at once; the one that lost retries and joins.
private struct GroupRace: Error {}

extension TicketStore: SharedIncidents {
    public func claim(event: AlertEvent, table: String, group: GroupClaim, workerID: String, lease: Duration) async throws -> TicketClaim {
        try await claimInTransaction(event: event, table: table, group: group, workerID: workerID, lease: lease)
    }

    /// The claim of an alert the batched claim did not settle: a processed event, a live link, a
    /// takeover, a new generation, a grouped alert, or one past the storm limit.
    func claimInTransaction(event: AlertEvent, table: String, group: GroupClaim?, workerID: String, lease: Duration) async throws -> TicketClaim {
        let claim: TicketClaim
        do {
            claim = try await pool.withTransaction { connection in
                try await claimNew(connection, event: event, table: table, group: group, workerID: workerID, leaseSeconds: lease.seconds)
            }
        } catch is GroupRace {
            return .busy
        }
        if case .joined = claim { outbox?.notify() }
        return claim
    }

    private func claimNew(_ connection: PostgresConnection, event: AlertEvent, table: String, group: GroupClaim?, workerID: String,
                          leaseSeconds: Double) async throws -> TicketClaim {
        if !(try await connection.query("SELECT 1 FROM processed_events WHERE customer_id = $1 AND event_id = $2",
                                        [.text(event.customerID), .text(event.eventID)])).isEmpty {
            return .duplicate
        }
        // Row lock on the live link: concurrent claims for one alert queue up here.
        let live = try await connection.query("""
            SELECT * FROM ticket_links
            WHERE customer_id = $1 AND alert_id = $2 AND status IN ('pending', 'open')
            FOR UPDATE
            """, [.text(event.customerID), .text(event.alert.id)])
        switch TicketLifecycle.claim(live: try live.first.map(TicketLink.init), now: Date()) {
        case .open(let link): return .open(link)
        case .busy: return .busy
        case .takeOver(let link):
            let taken = try await connection.query("""
                UPDATE ticket_links
                SET claimed_by = $2, claim_expires_at = now() + make_interval(secs => $3),
                    create_attempts = create_attempts + 1, updated_at = now()
                WHERE id = $1 RETURNING *
                """, [.int(link.id), .text(workerID), .double(leaseSeconds)])
            return .claimed(try TicketLink(taken[0]), mustLookUp: true)
        case .createNew:
            break
        }
        let history = try await connection.query("""
            SELECT count(*) AS tickets, max(id) AS latest FROM ticket_links WHERE customer_id = $1 AND alert_id = $2
            """, [.text(event.customerID), .text(event.alert.id)])
        let generation = try history[0]["tickets"].int()
        let previous = try history[0]["latest"].optionalInt()

        var opens: (kind: TicketGroup.Kind, key: String, window: Duration, resolve: AlertGrouping.Resolve)?
        if let group {
            switch try await openGroup(connection, customerID: event.customerID, kind: .group, key: group.key, leaseSeconds: leaseSeconds) {
            case .join(let found): return try await join(connection, found, event: event, generation: generation, previous: previous)
            case .busy: return .busy
            case .none: opens = (.group, group.key, group.window, group.resolve)
            }
        }
        if storm.maxNewPerMinute > 0 {
            let budget = try await connection.query("""
                WITH taken AS (\(Self.takeBudget(count: "w.n", from: "(VALUES ($1, $2, 1)) AS w(customer_id, network_id, n)"))) \(Self.budgetUsed)
                """, [.text(event.customerID), .text(event.networkID)])
            if try budget[0]["opened"].double() > Double(storm.maxNewPerMinute) {
                switch try await openGroup(connection, customerID: event.customerID, kind: .storm, key: event.networkID, leaseSeconds: leaseSeconds) {
                case .join(let found): return try await join(connection, found, event: event, generation: generation, previous: previous)
                case .busy: return .busy
                case .none: opens = (.storm, event.networkID, storm.window, .last)
                }
            }
        }
        // The partial unique index admits one live link per alert; a concurrent claim that
        // inserted first makes this insert do nothing.
        let inserted = try await connection.query("""
            INSERT INTO ticket_links (customer_id, network_id, alert_id, alert_type, correlation_id, target_table, status,
                                      create_attempts, claimed_by, claim_expires_at, previous_link_id, group_kind)
            VALUES ($1, $2, $3, $4, $5, $6, 'pending', 1, $7, now() + make_interval(secs => $8), $9, $10)
            ON CONFLICT (customer_id, alert_id) WHERE status IN ('pending', 'open') DO NOTHING
            RETURNING *
            """, [.text(event.customerID), .text(event.networkID), .text(event.alert.id), .text(event.alert.type),
                  .text(TicketLink.correlationID(customerID: event.customerID, alertID: event.alert.id, generation: generation)),
                  .text(table), .text(workerID), .double(leaseSeconds), .int(previous), .text(opens?.kind.rawValue)])
        guard let row = inserted.first else { return .busy }
        let link = try TicketLink(row)
        guard let opens else { return .claimed(link, mustLookUp: false) }
        // The unique index on open groups makes a second opener wait for the first's commit and
        // then insert nothing: its whole claim is undone, and its retry joins.
        let opened = try await connection.query("""
            INSERT INTO ticket_groups (customer_id, network_id, kind, group_key, resolve_policy, status, opener_link_id, window_ends_at)
            VALUES ($1, $2, $3, $4, $5, 'open', $6, now() + make_interval(secs => $7))
            ON CONFLICT (customer_id, kind, group_key) WHERE status = 'open' DO NOTHING
            RETURNING id
            """, [.text(event.customerID), .text(event.networkID), .text(opens.kind.rawValue), .text(opens.key), .text(opens.resolve.rawValue),
                  .int(link.id), .double(opens.window.seconds)])
        guard let groupID = try opened.first?["id"].int() else { throw GroupRace() }
        let member = try await connection.query("UPDATE ticket_links SET group_id = $2 WHERE id = $1 RETURNING *", [.int(link.id), .int(groupID)])
        return .claimed(try TicketLink(member[0]), mustLookUp: false)
    }

    private enum OpenGroup {
        case join(GroupRow)
        /// Its incident is being created.
        case busy
        case none
    }

    private struct GroupRow {
        let group: TicketGroup
        let opener: TicketLink
    }

    /// The open group for the key, locked; one whose window passed or whose incident failed,
    /// ended or was resolved is ended here and reported as none, and so is one whose opener has
    /// been left unclaimed for two leases, a minute at least (its message gave up, or waits for
    /// long retries; a short retry must not split a storm in two).
    private func openGroup(_ connection: PostgresConnection, customerID: String, kind: TicketGroup.Kind, key: String,
                           leaseSeconds: Double) async throws -> OpenGroup {
        let rows = try await connection.query("""
            SELECT g.id AS group_id, g.kind AS kind, g.group_key, g.resolve_policy, g.size, g.window_ends_at <= now() AS expired, g.opener_link_id
            FROM ticket_groups g
            WHERE g.customer_id = $1 AND g.kind = $2 AND g.group_key = $3 AND g.status = 'open'
            FOR UPDATE
            """, [.text(customerID), .text(kind.rawValue), .text(key)])
        guard let row = rows.first else { return .none }
        let group = try Self.group(row)
        let opener = try await connection.query("SELECT * FROM ticket_links WHERE id = $1", [.int(try row["opener_link_id"].int())]).first.map(TicketLink.init)
        let ended: Bool
        switch opener?.status {
        case .pending?:
            let abandoned = opener.map {
                !$0.isBeingCreated(lease: .seconds(leaseSeconds), now: Date()) && Date().timeIntervalSince($0.updatedAt) > max(2 * leaseSeconds, 60)
            }
            ended = try row["expired"].bool() || abandoned == true
        case .open?: ended = try row["expired"].bool() || opener?.state == .resolved || opener?.state?.isFinal == true
        default: ended = true
        }
        if ended {
            try await connection.execute("UPDATE ticket_groups SET status = 'ended' WHERE id = $1", [.int(group.id)])
            return .none
        }
        guard let opener, opener.status == .open, opener.sysID != nil else { return .busy }
        return .join(GroupRow(group: group, opener: opener))
    }

    /// The alert's link on the group's incident, its processed mark and `ticket.linked`, in the
    /// claim's transaction: nothing is written to ServiceNow here, so joining is exactly once.
    private func join(_ connection: PostgresConnection, _ found: GroupRow, event: AlertEvent, generation: Int, previous: Int?) async throws -> TicketClaim {
        let opener = found.opener
        let sized = try await connection.query("UPDATE ticket_groups SET size = size + 1 WHERE id = $1 RETURNING size", [.int(found.group.id)])
        var group = found.group
        group.size = try sized[0]["size"].int()
        let inserted = try await connection.query("""
            INSERT INTO ticket_links (customer_id, network_id, alert_id, alert_type, correlation_id, target_table, status,
                                      sys_id, number, url, state, sys_updated_on, create_attempts, previous_link_id,
                                      group_id, group_kind, note_pending)
            VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9, $10, $11, 0, $12, $13, $14, true)
            RETURNING *
            """, [.text(event.customerID), .text(event.networkID), .text(event.alert.id), .text(event.alert.type),
                  .text(TicketLink.correlationID(customerID: event.customerID, alertID: event.alert.id, generation: generation)),
                  .text(opener.table), .text(opener.sysID), .text(opener.number), .text(opener.url), .text(opener.state?.rawValue),
                  .text(opener.sysUpdatedOn), .int(previous), .int(group.id), .text(group.kind.rawValue)])
        let link = try TicketLink(inserted[0])
        try await Self.markProcessed(connection, event: event, outcome: "ticket_linked")
        let ticket = TicketEvent.Ticket(table: opener.table, sysID: opener.sysID ?? "", number: opener.number ?? "", url: opener.url ?? "",
                                        state: (opener.state ?? .new).rawValue)
        try await Self.enqueue(connection, TicketEvent(type: .linked, customerID: event.customerID, networkID: event.networkID, alertID: event.alert.id,
                                                       causeEventID: event.eventID, ticket: ticket, alertStatus: .open,
                                                       group: TicketEvent.Group(key: group.key, size: group.size)))
        return .joined(link, group)
    }

    /// Adds `count` new incidents to each network of `from` (which names `w.customer_id`,
    /// `w.network_id`): a data-modifying statement for a top-level `taken` CTE, which
    /// ``budgetUsed`` reads.
    static func takeBudget(count: String, from: String) -> String {
        """
        INSERT INTO incident_budgets AS b (customer_id, network_id, window_start, opened, previous)
        SELECT w.customer_id, w.network_id, now(), \(count), 0 FROM \(from)
        -- One order for every statement, so two batches never wait on each other's rows.
        ORDER BY w.customer_id, w.network_id
        ON CONFLICT (customer_id, network_id) DO UPDATE SET
            previous = CASE WHEN b.window_start <= now() - interval '2 minutes' THEN 0
                            WHEN b.window_start <= now() - interval '1 minute' THEN b.opened
                            ELSE b.previous END,
            opened = CASE WHEN b.window_start <= now() - interval '1 minute' THEN excluded.opened ELSE b.opened + excluded.opened END,
            window_start = CASE WHEN b.window_start <= now() - interval '2 minutes' THEN now()
                                WHEN b.window_start <= now() - interval '1 minute' THEN b.window_start + interval '1 minute'
                                ELSE b.window_start END
        RETURNING b.customer_id, b.network_id, b.opened, b.previous, b.window_start
        """
    }

    /// Each network's new incidents in the last 60 seconds, from the `taken` CTE: this minute's
    /// count, plus the previous minute's weighted by how much of it the last 60 seconds still
    /// cover (a sliding window: a fixed minute would let twice the limit through across its end).
    static let budgetUsed = """
        SELECT customer_id, network_id,
               (opened + previous * greatest(0, 1 - extract(epoch FROM now() - window_start) / 60))::float8 AS opened
        FROM taken
        """

    static func group(_ row: PostgresRow) throws -> TicketGroup {
        TicketGroup(id: try row["group_id"].int(), kind: TicketGroup.Kind(rawValue: try row["kind"].string()) ?? .group,
                    key: try row["group_key"].string(),
                    resolve: AlertGrouping.Resolve(rawValue: try row["resolve_policy"].string()) ?? .last, size: try row["size"].int())
    }

    public func group(id: Int) async throws -> TicketGroup? {
        try await pool.query("""
            SELECT id AS group_id, kind, group_key, resolve_policy, size FROM ticket_groups WHERE id = $1
            """, [.int(id)]).first.map(Self.group)
    }

    public func unresolvedMembers(groupID: Int, excluding: Int) async throws -> Int {
        try await pool.query("""
            SELECT count(*) AS n FROM ticket_links WHERE group_id = $1 AND id <> $2 AND status = 'open' AND alert_status <> 'resolved'
            """, [.int(groupID), .int(excluding)])[0]["n"].int()
    }

    public func shareState(groupID: Int, excluding: Int?, record: WrittenRecord) async throws {
        try await pool.withTransaction { connection in
            try await connection.execute("""
                UPDATE ticket_links SET state = $3, sys_updated_on = COALESCE($4, sys_updated_on), updated_at = now()
                WHERE group_id = $1 AND ($2::bigint IS NULL OR id <> $2) AND status = 'open'
                """, [.int(groupID), .int(excluding), .text(record.state.rawValue), .text(record.sysUpdatedOn)])
            if record.state == .resolved || record.state.isFinal {
                try await connection.execute("UPDATE ticket_groups SET status = 'ended' WHERE id = $1 AND status = 'open'", [.int(groupID)])
            }
        }
    }

    public func takeGroupNotes(groupID: Int, minInterval: Duration, limit: Int, lease: Duration) async throws -> PendingGroupNotes? {
        let taken = try await pool.query("""
            UPDATE ticket_groups g SET notes_locked_until = now() + make_interval(secs => $3)
            FROM ticket_links o
            WHERE g.id = $1 AND o.id = g.opener_link_id AND o.sys_id IS NOT NULL
              AND (g.notes_locked_until IS NULL OR g.notes_locked_until < now())
              AND (g.last_note_at IS NULL OR g.last_note_at <= now() - make_interval(secs => $2))
              AND EXISTS (SELECT 1 FROM ticket_links m WHERE m.group_id = g.id AND m.note_pending)
            RETURNING g.id AS group_id, g.kind, g.group_key, g.resolve_policy, g.size, g.network_id, o.target_table, o.sys_id
            """, [.int(groupID), .double(minInterval.seconds), .double(lease.seconds)])
        guard let row = taken.first else { return nil }
        let members = try await pool.query("""
            SELECT id, alert_id, alert_type, created_at FROM ticket_links WHERE group_id = $1 AND note_pending ORDER BY id LIMIT $2
            """, [.int(groupID), .int(limit)]).map {
                PendingGroupNotes.Member(linkID: try $0["id"].int(), alertID: try $0["alert_id"].string(), alertType: try $0["alert_type"].string(),
                                         joinedAt: try $0["created_at"].date())
            }
        return PendingGroupNotes(group: try Self.group(row), networkID: try row["network_id"].string(), table: try row["target_table"].string(),
                                 sysID: try row["sys_id"].string(), members: members)
    }

    public func finishGroupNotes(_ notes: PendingGroupNotes, written: Bool) async throws {
        try await pool.withTransaction { connection in
            if written {
                try await connection.execute("UPDATE ticket_links SET note_pending = false WHERE id = ANY($1::bigint[])",
                                             [.array(notes.members.map { String($0.linkID) })])
            }
            try await connection.execute("""
                UPDATE ticket_groups SET notes_locked_until = NULL, last_note_at = CASE WHEN $2 THEN now() ELSE last_note_at END WHERE id = $1
                """, [.int(notes.group.id), .bool(written)])
        }
    }

    public func groupsWithPendingNotes(customerID: String) async throws -> [(id: Int, kind: TicketGroup.Kind)] {
        try await pool.query("""
            SELECT DISTINCT group_id, group_kind FROM ticket_links WHERE customer_id = $1 AND note_pending ORDER BY group_id
            """, [.text(customerID)]).map { (try $0["group_id"].int(), TicketGroup.Kind(rawValue: try $0["group_kind"].string()) ?? .group) }
    }
}
