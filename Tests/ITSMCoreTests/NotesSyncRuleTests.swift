import Foundation
import ITSMCore
import ITSMCoreTesting
import Logging
import Synchronization
import Testing

/// The notes sync's bookkeeping over the twins: the worker's own entries are left out, nothing is
/// reported twice, and a flood within one second cannot stall it.
struct NotesSyncRuleTests {
    /// The notes sync's memory, as `PostgresSyncStore` keeps it.
    final class Notes: NoteStore {
        let state = Mutex<(watermark: String?, ownUser: String?, queued: [String: TicketEvent])>((nil, nil, [:]))

        func noteProgress(customerID: String) async throws -> (watermark: String?, ownUser: String?) {
            state.withLock { ($0.watermark, $0.ownUser) }
        }

        func recordNoteProgress(customerID: String, watermark: String?, ownUser: String?) async throws {
            state.withLock { $0.watermark = watermark; $0.ownUser = ownUser }
        }

        func queueComments(_ events: [TicketEvent]) async throws -> Int {
            state.withLock { state in
                events.filter { state.queued.updateValue($0, forKey: $0.eventID) == nil }.count
            }
        }

        func queuedAlready(eventIDs: [String]) async throws -> Set<String> {
            state.withLock { state in Set(eventIDs.filter { state.queued[$0] != nil }) }
        }

        var texts: [String] { state.withLock { $0.queued.values.compactMap(\.comment?.text) } }
    }

    let clock = ManualClock()
    let tickets: InMemoryTicketRepository
    let gateway = InMemoryIncidentGateway()
    let directory = InMemoryIntegrationDirectory()
    let circuits = InstanceCircuits()
    let notes = Notes()
    let status: StatusHandler
    let logger = Logger(label: "notes-sync-tests")

    init() throws {
        tickets = InMemoryTicketRepository(clock: clock)
        tickets.register(customerID: "cust-1")
        directory.add(customerID: "cust-1", gateway: gateway)
        directory.add(StoredMapping(customerID: "cust-1", networkID: "net-1", alertType: "cpu_usage",
                                    mapping: try AlertMapping.parse(fieldsJSON: Data(#"{"short_description": "{{alert.title}}"}"#.utf8))))
        status = StatusHandler(tickets: tickets, directory: directory, circuits: circuits, workerID: "w1", claimLease: .seconds(70), clock: clock)
    }

    func sync(notesPerCycle: Int) -> IncidentSync {
        IncidentSync(store: tickets, directory: directory, status: status, circuits: circuits,
                            settings: IncidentSync.Settings(lease: .seconds(60), fullEvery: 10, overlap: .seconds(5), alertStatusByState: [:],
                                                            notesPerCycle: notesPerCycle),
                            notes: notes, logger: logger)
    }

    func raise(_ alertID: String) async throws -> String {
        let alerts = AlertHandler(tickets: tickets, directory: directory, status: status, circuits: circuits, workerID: "w1", claimLease: .seconds(70),
                                  writeWindow: .seconds(60), reopenWindow: .seconds(3600), clock: clock)
        let event = AlertEvent(eventID: UUID().uuidString, kind: .raised, occurredAt: clock.now, customerID: "cust-1", networkID: "net-1",
                               alert: AlertEvent.Alert(id: alertID, type: "cpu_usage", title: "CPU"))
        _ = try await alerts.handleRaised(event, logger: logger)
        let sysID = try #require(try await tickets.link(customerID: "cust-1", alertID: alertID)?.sysID)
        gateway.set(sysID: sysID, fields: ["sys_created_by": "itsm.integration"])
        return sysID
    }

    func entry(_ n: Int, on sysID: String, by author: String = "dana", at second: Date) -> JournalEntry {
        JournalEntry(sysID: String(format: "j%05d", n), elementID: sysID, element: "work_notes", value: "note \(n)", createdBy: author,
                     createdOn: InstanceTimestamp.format(second))
    }

    @Test func theWorkersOwnEntriesAreLeftOutAndNoneIsReportedTwice() async throws {
        let sysID = try await raise("a1")
        let now = Date()
        gateway.addJournalEntry(entry(1, on: sysID, by: "itsm.integration", at: now))
        gateway.addJournalEntry(entry(2, on: sysID, at: now))
        let sync = sync(notesPerCycle: 10)
        #expect(await sync.syncAll().first?.comments == 1)
        #expect(notes.texts == ["note 2"])
        #expect(await sync.syncAll().first?.comments == 0)
        #expect(notes.state.withLock { $0.ownUser } == "itsm.integration")
    }

    @Test func aCapTakesTheOldestFirstAndTheRestNextCycle() async throws {
        let sysID = try await raise("a1")
        let now = Date()
        for n in 1...5 { gateway.addJournalEntry(entry(n, on: sysID, at: now.addingTimeInterval(Double(n) - 5))) }
        let sync = sync(notesPerCycle: 2)
        var counts: [Int] = []
        for _ in 0..<4 { counts.append(await sync.syncAll().first?.comments ?? -1) }
        #expect(counts == [2, 2, 1, 0])
        #expect(Set(notes.texts) == Set((1...5).map { "note \($0)" }))
    }

    @Test func moreEntriesWithinOneSecondThanAReadTakesCannotStallTheSync() async throws {
        let sysID = try await raise("a1")
        let second = Date().addingTimeInterval(-2)
        // A read takes ten times the cap: 12 entries in one second with a cap of 1.
        for n in 1...12 { gateway.addJournalEntry(entry(n, on: sysID, at: second)) }
        gateway.addJournalEntry(entry(99, on: sysID, at: second.addingTimeInterval(1)))
        let sync = sync(notesPerCycle: 1)
        var reported = 0
        for _ in 0..<20 { reported += await sync.syncAll().first?.comments ?? 0 }
        // The ten read of that second, and the entry after it: the two beyond the read were
        // skipped with a warning rather than read again forever.
        #expect(notes.texts.contains("note 99"))
        #expect(reported == 11)
    }
}

extension NotesSyncRuleTests {
    @Test func entriesOfOtherRecordsOrFieldsAndWithoutADateAreNotReported() async throws {
        let sysID = try await raise("a1")
        let now = Date()
        // What an instance that ignored part of the query might answer.
        gateway.addJournalEntry(JournalEntry(sysID: "x1", elementID: sysID, element: "close_notes", value: "not a journal field", createdBy: "dana",
                                             createdOn: InstanceTimestamp.format(now)))
        gateway.addJournalEntry(JournalEntry(sysID: "x2", elementID: sysID, element: "comments", value: "no date", createdBy: "dana", createdOn: "yesterday"))
        gateway.addJournalEntry(JournalEntry(sysID: "x3", elementID: sysID, element: "comments", value: String(repeating: "€", count: 20_000),
                                             createdBy: String(repeating: "a", count: 1000), createdOn: InstanceTimestamp.format(now)))
        #expect(await sync(notesPerCycle: 10).syncAll().first?.comments == 1)
        let comment = try #require(notes.state.withLock { $0.queued.values.first?.comment })
        #expect(comment.visibility == "customer")
        #expect(comment.author.count == 255)
        // 32 KiB of three-byte characters, cut between two of them, and the marker.
        #expect(comment.text == String(repeating: "€", count: 32 * 1024 / 3) + " …[truncated]")
    }
}

extension NotesSyncRuleTests {
    @Test func aFirstCycleWithNothingToReadStillFixesWhereTheNextStarts() async throws {
        let sysID = try await raise("a1")
        let sync = sync(notesPerCycle: 10)
        #expect(await sync.syncAll().first?.comments == 0)
        let first = try #require(notes.state.withLock { $0.watermark }.flatMap(InstanceTimestamp.parse))
        // An entry the instance stamps a little before that cycle's end but shows only after it
        // (its clock, a slow commit), read by a cycle that comes later: the next read must start
        // at the first cycle's end less the overlap (5 s here), not at its own time less it.
        gateway.addJournalEntry(entry(1, on: sysID, at: first.addingTimeInterval(-4)))
        try await Task.sleep(for: .seconds(1.5))
        #expect(await sync.syncAll().first?.comments == 1)
    }
}
