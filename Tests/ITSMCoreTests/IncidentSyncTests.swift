import Foundation
import ITSMCore
import ITSMCoreTesting
import Logging
import Testing

/// The sync's rules over the twins: a change made in ServiceNow is published once, the
/// worker's own writes are not echoed, a deleted incident is reported, one worker at a time.
struct IncidentSyncTests {
    let clock = ManualClock()
    let tickets: InMemoryTicketRepository
    let gateway = InMemoryIncidentGateway()
    let directory = InMemoryIntegrationDirectory()
    let circuits = InstanceCircuits()
    let status: StatusHandler
    let alerts: AlertHandler
    let sync: IncidentSync
    let logger = Logger(label: "incident-sync-tests")

    init() throws {
        tickets = InMemoryTicketRepository(clock: clock)
        tickets.register(customerID: "cust-1")
        directory.add(customerID: "cust-1", gateway: gateway)
        directory.add(StoredMapping(customerID: "cust-1", networkID: "net-1", alertType: "cpu_usage",
                                    mapping: try AlertMapping.parse(fieldsJSON: Data(#"{"short_description": "{{alert.title}}"}"#.utf8))))
        status = StatusHandler(tickets: tickets, directory: directory, circuits: circuits, workerID: "w1", claimLease: .seconds(70), clock: clock)
        alerts = AlertHandler(tickets: tickets, directory: directory, status: status, circuits: circuits, workerID: "w1", claimLease: .seconds(70),
                              writeWindow: .seconds(60), reopenWindow: .seconds(3600), clock: clock)
        sync = IncidentSync(store: tickets, directory: directory, status: status, circuits: circuits,
                            settings: IncidentSync.Settings(lease: .seconds(60), fullEvery: 10, overlap: .seconds(5),
                                                            alertStatusByState: [.resolved: .resolved, .inProgress: .acknowledged]),
                            logger: logger)
    }

    func raise(_ alertID: String) async throws -> String {
        let event = AlertEvent(eventID: UUID().uuidString, kind: .raised, occurredAt: clock.now, customerID: "cust-1", networkID: "net-1",
                               alert: AlertEvent.Alert(id: alertID, type: "cpu_usage", title: "CPU"))
        _ = try await alerts.handleRaised(event, logger: logger)
        return try #require(try await tickets.link(customerID: "cust-1", alertID: alertID)?.sysID)
    }

    var stateChanges: [TicketEvent] { tickets.queuedEvents.filter { $0.type == .stateChanged } }

    @Test func anOperatorsChangeIsPublishedOnce() async throws {
        let sysID = try await raise("a1")
        #expect(await sync.syncAll().first?.changes == 0)
        gateway.set(sysID: sysID, fields: ["state": IncidentState.resolved.rawValue])
        clock.advance(by: .seconds(61))
        #expect(await sync.syncAll().first?.changes == 1)
        #expect(stateChanges.map(\.alertStatus) == [.resolved])
        clock.advance(by: .seconds(61))
        #expect(await sync.syncAll().first?.changes == 0)
        #expect(stateChanges.count == 1)
        #expect(try await tickets.link(customerID: "cust-1", alertID: "a1")?.alertStatus == .resolved)
    }

    @Test func aTicketTheWorkerIsWritingIsNotEchoed() async throws {
        let sysID = try await raise("a1")
        let link = try #require(try await tickets.link(customerID: "cust-1", alertID: "a1"))
        _ = try await tickets.claimOpen(link: link, workerID: "w2", lease: .seconds(70))
        gateway.set(sysID: sysID, fields: ["state": IncidentState.inProgress.rawValue])
        #expect(await sync.syncAll().first?.changes == 0)
        #expect(stateChanges.isEmpty)
    }

    @Test func aDeletedIncidentIsReportedOnceAndNoLongerPolled() async throws {
        let sysID = try await raise("a1")
        gateway.delete(sysID: sysID)
        #expect(await sync.syncAll().first?.deleted == 1)
        #expect(stateChanges.map { $0.ticket?.state } == [IncidentState.deleted.rawValue])
        clock.advance(by: .seconds(61))
        let next = await sync.syncAll().first
        #expect(next?.deleted == 0 && next?.ticketsChecked == 0)
    }

    @Test func oneWorkerAtATimeSyncsACustomer() async throws {
        _ = try await raise("a1")
        _ = try await tickets.takeLease(customerID: "cust-1", lease: .seconds(60))
        #expect(await sync.syncAll().first?.outcome == "locked")
        clock.advance(by: .seconds(61))
        #expect(await sync.syncAll().first?.outcome == "ok")
    }
}
