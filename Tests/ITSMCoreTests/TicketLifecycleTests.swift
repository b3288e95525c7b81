import Foundation
import ITSMCore
import ITSMCoreTesting
import Testing

/// The ticket rules against the in-memory twin and a clock the tests move: no servers, no waits.
struct TicketLifecycleTests {
    let clock = ManualClock()
    let lease = Duration.seconds(60)

    @Test(arguments: TicketRepositoryContract.all.map(\.name))
    func theTwinKeepsTheStoresContract(_ name: String) async throws {
        let check = try #require(TicketRepositoryContract.all.first { $0.name == name }).check
        try await check(InMemoryTicketRepository(clock: clock))
    }

    @Test func anExpiredCreationClaimIsTakenOverWithALookUp() async throws {
        let repository = InMemoryTicketRepository(clock: clock)
        let event = TicketRepositoryContract.raised()
        guard case .claimed(let link, false) = try await repository.claim(event: event, table: "incident", workerID: "w1", lease: lease) else {
            Issue.record("no first claim"); return
        }
        clock.advance(by: .seconds(59))
        #expect(try await repository.claim(event: event, table: "incident", workerID: "w2", lease: lease) == .busy)
        // The holder may still commit: its link counts as being created for one more lease.
        clock.advance(by: .seconds(2))
        #expect(try await repository.link(id: link.id)!.isBeingCreated(lease: lease, now: clock.now))
        guard case .claimed(let taken, true) = try await repository.claim(event: event, table: "incident", workerID: "w2", lease: lease) else {
            Issue.record("the expired claim was not taken over"); return
        }
        #expect(taken.id == link.id && taken.claimedBy == "w2" && taken.createAttempts == 2)
        // The first holder finds out when it commits.
        let outgoing = TicketRepositoryContract.created(event)
        await #expect(throws: LostClaim.self) {
            _ = try await repository.completeCreation(link: link, workerID: "w1", ticket: outgoing.ticket!, sysUpdatedOn: nil, warnings: [],
                                                      event: event, outgoing: outgoing)
        }
        #expect(repository.queuedEvents.isEmpty)
    }

    @Test func anAbandonedClaimStopsCountingAsBeingCreatedAfterOneMoreLease() async throws {
        let repository = InMemoryTicketRepository(clock: clock)
        guard case .claimed(let link, _) = try await repository.claim(event: TicketRepositoryContract.raised(), table: "incident", workerID: "w1", lease: lease) else {
            Issue.record("no claim"); return
        }
        #expect(link.isBeingCreated(lease: lease, now: clock.now))
        clock.advance(by: .seconds(119))
        #expect(link.isBeingCreated(lease: lease, now: clock.now))
        clock.advance(by: .seconds(2))
        #expect(!link.isBeingCreated(lease: lease, now: clock.now))
    }

    @Test func aStuckWriteClaimOnAnOpenTicketExpires() async throws {
        let repository = InMemoryTicketRepository(clock: clock)
        let link = try await TicketRepositoryContract.open(TicketRepositoryContract.raised(), in: repository)
        #expect(try await repository.claimOpen(link: link, workerID: "w1", lease: lease) != nil)
        clock.advance(by: .seconds(60))
        #expect(try await repository.claimOpen(link: link, workerID: "w2", lease: lease) == nil)
        clock.advance(by: .milliseconds(1))
        #expect(try await repository.claimOpen(link: link, workerID: "w2", lease: lease)?.claimedBy == "w2")
    }

    @Test func aRefireOnAnOpenOrAcknowledgedAlertAddsANote() throws {
        var link = try openLink()
        #expect(TicketLifecycle.refire(link, now: clock.now, reopenWindow: .seconds(3600)) == .addNote)
        link.alertStatus = .acknowledged
        link.state = .inProgress
        #expect(TicketLifecycle.refire(link, now: clock.now, reopenWindow: .seconds(3600)) == .addNote)
    }

    @Test func aRefireReopensWithinTheWindowAndReplacesAfterIt() throws {
        var link = try openLink()
        link.alertStatus = .resolved
        link.state = .resolved
        link.resolvedAt = clock.now
        clock.advance(by: .seconds(3600))
        #expect(TicketLifecycle.refire(link, now: clock.now, reopenWindow: .seconds(3600)) == .reopen)
        clock.advance(by: .seconds(1))
        #expect(TicketLifecycle.refire(link, now: clock.now, reopenWindow: .seconds(3600)) == .replace)
        // A resolved link without its time predates the column: too old to reopen.
        link.resolvedAt = nil
        #expect(TicketLifecycle.refire(link, now: clock.now, reopenWindow: .seconds(3600)) == .replace)
    }

    @Test(arguments: [IncidentState.closed, .canceled])
    func aTicketClosedInServiceNowIsReplaced(_ state: IncidentState) throws {
        var link = try openLink()
        link.state = state
        #expect(TicketLifecycle.refire(link, now: clock.now, reopenWindow: .seconds(3600)) == .replace)
        #expect(TicketLifecycle.status(.resolved, occurredAt: clock.now, on: link) == .ticketClosed)
        #expect(TicketLifecycle.refusedWriteEndsTicket(deleted: false, currentState: state))
    }

    @Test func aRefusedWriteEndsTheTicketOnlyWhenItIsGone() {
        #expect(TicketLifecycle.refusedWriteEndsTicket(deleted: true, currentState: nil))
        #expect(!TicketLifecycle.refusedWriteEndsTicket(deleted: false, currentState: .inProgress))
        #expect(!TicketLifecycle.refusedWriteEndsTicket(deleted: false, currentState: nil))
    }

    @Test func theNewestStatusWinsWhateverTheArrivalOrder() throws {
        var link = try openLink()
        let acknowledgedAt = clock.now, resolvedAt = clock.now.addingTimeInterval(5)
        #expect(TicketLifecycle.status(.resolved, occurredAt: resolvedAt, on: link) == .apply(.resolved))
        link.statusEventAt = resolvedAt
        #expect(TicketLifecycle.status(.acknowledged, occurredAt: acknowledgedAt, on: link) == .stale)
        // The same instant is not newer: a redelivery of the applied event changes nothing.
        #expect(TicketLifecycle.status(.resolved, occurredAt: resolvedAt, on: link) == .stale)
        #expect(TicketLifecycle.status(.acknowledged, occurredAt: resolvedAt.addingTimeInterval(1), on: link) == .apply(.acknowledged))
    }

    @Test func finalStatesAreClosedAndCanceledOnly() {
        #expect(IncidentState.finalStates == [.closed, .canceled])
        for state: IncidentState in [.new, .inProgress, .onHold, .resolved, .deleted, "42"] { #expect(!state.isFinal) }
        #expect(IncidentState("7").label == "Closed")
        #expect(IncidentState("42").label == "42")
    }

    @Test func typedStatesReadAndWriteTheirWireForm() throws {
        let decoded = try JSONDecoder().decode([IncidentState].self, from: Data(#"["6","8"]"#.utf8))
        #expect(decoded == [.resolved, .canceled])
        #expect(String(decoding: try JSONEncoder().encode([AlertStatus.acknowledged]), as: UTF8.self) == #"["acknowledged"]"#)
        #expect(AlertStatus(.resolved) == .resolved && AlertStatus(.raised) == .open)
    }

    private func openLink() throws -> TicketLink {
        TicketLink(id: 1, customerID: "cust-1", networkID: "net-1", alertID: "a1", alertType: "cpu_usage", correlationID: "ceburu-x", table: "incident",
                   status: .open, sysID: "abc", number: "INC0010001", state: .new, createdAt: clock.now, updatedAt: clock.now)
    }
}

@Suite struct FlapRuleTests {
    let settings = FlapSettings(threshold: 3, window: .seconds(600), quiet: .seconds(60))
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func cyclesWithinTheWindowMakeAnAlertFlap() {
        var kept: [Date] = []
        var flapping = false
        for minute in [0.0, 4, 8] {
            let result = settings.cycle(previous: kept, wasFlapping: flapping, now: t0.addingTimeInterval(minute * 60))
            kept = result.kept
            flapping = result.cycle.isFlapping
        }
        #expect(flapping)
        #expect(kept.count == 3)
    }

    @Test func cyclesOlderThanTheWindowDoNotCount() {
        let old = [t0, t0.addingTimeInterval(60)]
        let result = settings.cycle(previous: old, wasFlapping: false, now: t0.addingTimeInterval(650))
        #expect(result.cycle.cycles == 2)
        #expect(!result.cycle.isFlapping)
        #expect(result.kept == [t0.addingTimeInterval(60), t0.addingTimeInterval(650)])
    }

    @Test func aFlappingAlertStaysFlappingAndOffNeverFlaps() {
        #expect(settings.cycle(previous: [], wasFlapping: true, now: t0).cycle == FlapSettings.Cycle(cycles: 1, wasFlapping: true, isFlapping: true))
        let many = (0..<10).map { t0.addingTimeInterval(Double($0)) }
        #expect(!FlapSettings.off.cycle(previous: many, wasFlapping: false, now: t0.addingTimeInterval(11)).cycle.isFlapping)
        // The memory stays bounded however often it fires.
        #expect(settings.cycle(previous: many, wasFlapping: false, now: t0.addingTimeInterval(11)).kept.count == 3)
    }
}
