import Foundation
import ITSMCore
import ITSMCoreTesting
import Logging
import Testing

/// The use cases end to end over the in-memory twins: a repository, an instance behind the
/// gateway port, a directory and a clock the tests move. What takes a real RabbitMQ, PostgreSQL
/// and simulator in ITSMWorkerTests (the wiring) is decided here, in milliseconds.
struct AlertHandlingTests {
    let clock = ManualClock()
    let tickets: InMemoryTicketRepository
    let gateway = InMemoryIncidentGateway()
    let directory = InMemoryIntegrationDirectory()
    let circuits = InstanceCircuits(threshold: 3, openFor: .seconds(30), maxInFlight: 8, permitWait: .seconds(1))
    let status: StatusHandler
    let alerts: AlertHandler
    let logger = Logger(label: "alert-handling-tests")
    let lease = Duration.seconds(70)

    init() throws {
        tickets = InMemoryTicketRepository(clock: clock)
        directory.add(customerID: "cust-1", gateway: gateway)
        let fields = #"{"short_description": "{{alert.title}}", "description": "seen on {{alert.id}}", "assignment_group": "Network Operations"}"#
        directory.add(StoredMapping(customerID: "cust-1", networkID: "net-1", alertType: "cpu_usage",
                                    mapping: try AlertMapping.parse(fieldsJSON: Data(fields.utf8))))
        status = StatusHandler(tickets: tickets, directory: directory, circuits: circuits, workerID: "w1", claimLease: lease, clock: clock)
        alerts = AlertHandler(tickets: tickets, directory: directory, status: status, circuits: circuits, workerID: "w1", claimLease: lease,
                              writeWindow: .seconds(60), reopenWindow: .seconds(3600), clock: clock)
    }

    func raised(_ alertID: String = "a1", customer: String = "cust-1", title: String = "CPU above 95%") -> AlertEvent {
        AlertEvent(eventID: UUID().uuidString.lowercased(), kind: .raised, occurredAt: clock.now, customerID: customer, networkID: "net-1",
                   alert: AlertEvent.Alert(id: alertID, type: "cpu_usage", severity: .critical, title: title))
    }

    func statusEvent(_ kind: AlertEvent.Kind, _ alertID: String = "a1", at date: Date) -> AlertEvent {
        AlertEvent(eventID: UUID().uuidString.lowercased(), kind: kind, occurredAt: date, customerID: "cust-1", networkID: "net-1",
                   alert: AlertEvent.Alert(id: alertID, type: "cpu_usage"), actor: AlertEvent.Actor(name: "Dana Ops"))
    }

    func queued(_ type: TicketEvent.Kind) -> [TicketEvent] { tickets.queuedEvents.filter { $0.type == type } }

    @Test func aRaisedAlertCreatesOneIncidentAndItsRedeliveryIsADuplicate() async throws {
        let event = raised()
        #expect(try await alerts.handleRaised(event, logger: logger) == .ticketCreated(number: "INC0010001"))
        let incident = try #require(gateway.incidents.first)
        #expect(incident["short_description"] == "CPU above 95%")
        #expect(incident["correlation_id"] == TicketLink.correlationID(customerID: "cust-1", alertID: "a1", generation: 0))
        #expect(queued(.created).map(\.alertStatus) == [.open])
        #expect(try await tickets.link(customerID: "cust-1", alertID: "a1")?.status == .open)

        #expect(try await alerts.handleRaised(event, logger: logger) == .duplicate)
        #expect(gateway.incidents.count == 1)
        #expect(gateway.calls.filter { $0 == .create }.count == 1)
    }

    @Test func aTakeOverFindsTheIncidentTheLostAttemptCreated() async throws {
        let event = raised()
        // Another worker claimed the alert and created the incident, then died before its commit.
        guard case .claimed(let link, _) = try await tickets.claim(event: event, table: "incident", workerID: "dead", lease: lease) else {
            Issue.record("no claim"); return
        }
        _ = try await gateway.create(table: "incident", fields: ["correlation_id": link.correlationID, "short_description": "CPU above 95%"])
        #expect(try await alerts.handleRaised(event, logger: logger) == .busy, "the claim is still alive")
        clock.advance(by: lease + .seconds(1))
        #expect(try await alerts.handleRaised(event, logger: logger) == .ticketCreated(number: "INC0010001"))
        #expect(gateway.incidents.count == 1, "the takeover created a second incident")
        #expect(gateway.calls.contains(.find))
    }

    @Test func aRefusedAssignmentGroupIsDroppedWithAWarning() async throws {
        gateway.fail(.create, with: InMemoryIncidentGateway.assignmentGroupRefused)
        #expect(try await alerts.handleRaised(raised(), logger: logger) == .ticketCreated(number: "INC0010001"))
        #expect(gateway.incidents.first?["assignment_group"] == nil)
        #expect(queued(.created).first?.warnings == ["assignment_group"])
    }

    @Test func aPassingFailureReleasesTheClaimForTheRetry() async throws {
        gateway.fail(.create, with: InMemoryIncidentGateway.unavailable)
        let event = raised()
        await #expect {
            try await alerts.handleRaised(event, logger: logger)
        } throws: { error in
            (error as? RetryableFailure).map { !$0.parked && $0.gatewayError?.code == "servicenow_server_error" } ?? false
        }
        #expect(try await tickets.link(customerID: "cust-1", alertID: "a1")?.claimedBy == nil)
        #expect(try await alerts.handleRaised(event, logger: logger) == .ticketCreated(number: "INC0010001"))
    }

    @Test func aRateLimitParksTheMessageWithTheInstancesWait() async throws {
        gateway.fail(.create, with: InMemoryIncidentGateway.rateLimited)
        await #expect {
            try await alerts.handleRaised(raised(), logger: logger)
        } throws: { error in
            (error as? RetryableFailure).map { $0.parked && $0.retryAfter == .seconds(2) } ?? false
        }
        #expect(circuits.state(gateway.instanceKey) == .closed, "a rate limit is not the instance failing")
    }

    @Test func aRefusalFailsTheTicketWithTheInstancesWords() async throws {
        gateway.fail(.create, with: InMemoryIncidentGateway.dataPolicy)
        #expect(try await alerts.handleRaised(raised(), logger: logger) == .failed(code: "servicenow_bad_request"))
        #expect(queued(.failed).first?.error?.message == "Data Policy Exception: Category is mandatory")
        #expect(try await tickets.link(customerID: "cust-1", alertID: "a1")?.status == .failed)
    }

    @Test func aRefireNotesReopensWithinTheWindowAndStartsANewTicketAfterIt() async throws {
        _ = try await alerts.handleRaised(raised(), logger: logger)
        let sysID = try #require(gateway.incidents.first?["sys_id"])
        #expect(try await alerts.handleRaised(raised(title: "again"), logger: logger) == .ticketUpdated(number: "INC0010001"))
        #expect(gateway.notes(sysID: sysID).last?.hasPrefix("Alert fired again") == true)

        _ = try await status.handle(statusEvent(.resolved, at: clock.now), logger: logger)
        #expect(gateway.incidents.first?["state"] == IncidentState.resolved.rawValue)
        clock.advance(by: .seconds(600))
        #expect(try await alerts.handleRaised(raised(title: "back"), logger: logger) == .ticketUpdated(number: "INC0010001"))
        #expect(gateway.incidents.first?["state"] == IncidentState.inProgress.rawValue)
        #expect(queued(.updated).last?.alertStatus == .open)

        clock.advance(by: .seconds(1))
        _ = try await status.handle(statusEvent(.resolved, at: clock.now), logger: logger)
        clock.advance(by: .seconds(3601))
        #expect(try await alerts.handleRaised(raised(title: "much later"), logger: logger) == .ticketCreated(number: "INC0010002"))
        #expect(gateway.incidents.count == 2)
        #expect(gateway.incidents.last?["description"]?.contains("Previous ticket for this alert: INC0010001") == true)
        let links = try await tickets.links(customerID: "cust-1", alertID: "a1")
        #expect(links.map(\.status) == [.closed, .open])
    }

    @Test func aTicketClosedInServiceNowGetsANewOneWhenTheAlertFiresAgain() async throws {
        _ = try await alerts.handleRaised(raised(), logger: logger)
        gateway.set(sysID: try #require(gateway.incidents.first?["sys_id"]), fields: ["state": IncidentState.closed.rawValue])
        #expect(try await alerts.handleRaised(raised(title: "again"), logger: logger) == .ticketCreated(number: "INC0010002"))
        let links = try await tickets.links(customerID: "cust-1", alertID: "a1")
        #expect(links.map(\.status) == [.closed, .open])
        #expect(links.last?.previousLinkID == links.first?.id)
    }

    @Test func statusEventsInAnyOrderEndInTheNewest() async throws {
        _ = try await alerts.handleRaised(raised(), logger: logger)
        let start = clock.now
        #expect(try await status.handle(statusEvent(.resolved, at: start.addingTimeInterval(30)), logger: logger) == .ticketUpdated(number: "INC0010001"))
        #expect(try await status.handle(statusEvent(.acknowledged, at: start.addingTimeInterval(10)), logger: logger) == .skipped(reason: "stale"))
        #expect(gateway.incidents.first?["state"] == IncidentState.resolved.rawValue)
        #expect(queued(.updated).map(\.alertStatus) == [.resolved])
    }

    @Test func aStatusEventBeforeItsTicketIsAppliedOnceTheTicketExists() async throws {
        let resolved = statusEvent(.resolved, at: clock.now.addingTimeInterval(5))
        #expect(try await status.handle(resolved, logger: logger) == .deferred)
        #expect(try await alerts.handleRaised(raised(), logger: logger) == .ticketCreated(number: "INC0010001"))
        #expect(gateway.incidents.first?["state"] == IncidentState.resolved.rawValue)
        #expect(queued(.updated).first?.causeEventID == resolved.eventID)
    }

    @Test func aFailingInstanceOpensItsCircuitAndTheRestWaitWithoutCallingIt() async throws {
        for n in 0..<3 {
            gateway.fail(.create, with: InMemoryIncidentGateway.unavailable)
            await #expect(throws: RetryableFailure.self) { try await alerts.handleRaised(raised("a\(n)"), logger: logger) }
        }
        #expect(circuits.state(gateway.instanceKey) == .open)
        let calls = gateway.calls.count
        await #expect {
            try await alerts.handleRaised(raised("a9"), logger: logger)
        } throws: { error in
            (error as? RetryableFailure)?.parked == true
        }
        #expect(gateway.calls.count == calls, "an open circuit still let a call through")
    }

    @Test func anUnusableIntegrationFailsTheTicketAndACustomerWithoutOneIsSkipped() async throws {
        directory.addUnusable(customerID: "cust-2", IntegrationUnusable(code: "secret_unreadable", message: "sealed with another key"))
        directory.add(StoredMapping(customerID: "cust-2", networkID: "net-1", alertType: "cpu_usage",
                                    mapping: try AlertMapping.parse(fieldsJSON: Data(#"{"short_description": "x"}"#.utf8))))
        #expect(try await alerts.handleRaised(raised(customer: "cust-2"), logger: logger) == .failed(code: "secret_unreadable"))
        #expect(queued(.failed).first?.error == TicketEvent.Failure(code: "secret_unreadable", message: "sealed with another key"))
        #expect(try await alerts.handleRaised(raised(customer: "cust-3"), logger: logger) == .skipped(reason: "no_integration"))
        #expect(gateway.calls.isEmpty)
    }
}
