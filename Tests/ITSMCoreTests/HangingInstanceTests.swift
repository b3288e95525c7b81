import Coordination
@testable import ITSMCore
import TestSupport
import Testing

/// How the circuits recognise a hanging instance by its silence, and how they size the intake.
@Suite(.timeLimit(.minutes(1)))
struct HangingInstanceTests {
    @Test func silenceWhileTheSlotsAreTakenOpensTheCircuitWithoutWaitingForTimeouts() async throws {
        let circuits = InstanceCircuits(threshold: 5, openFor: .seconds(30), maxInFlight: 4, permitWait: .milliseconds(10),
                                        slowFloor: .milliseconds(100), slowCeiling: .milliseconds(300))
        // Known fast (its messages came back at once), so silence of 100 ms (the floor) is a hang.
        for _ in 0..<5 {
            circuits.leave(try await circuits.enter("a"), outcome: .success)
        }
        // Two calls in progress (half the cap) that do not come back.
        _ = try await circuits.enter("a")
        _ = try await circuits.enter("a")
        _ = try await circuits.enter("b")
        // (Past the ceiling, so a busy machine's longer sleeps above cannot make this too short.)
        try await Task.sleep(for: .milliseconds(350))
        await #expect(throws: RetryableFailure.self) { try await circuits.enter("a") }
        #expect(circuits.state("a") == .open)
        // Another instance's silence with less than half its cap in progress is one slow call.
        _ = try await circuits.enter("b")
        #expect(circuits.state("b") == .closed)
    }

    @Test func oneSlowCallAmongFewIsNotAHang() async throws {
        let circuits = InstanceCircuits(threshold: 5, openFor: .seconds(30), maxInFlight: 8, permitWait: .milliseconds(10),
                                        slowFloor: .milliseconds(50), slowCeiling: .milliseconds(50))
        let slow = try await circuits.enter("a")
        try await Task.sleep(for: .milliseconds(100))
        for _ in 0..<3 { _ = try await circuits.enter("a") }
        #expect(circuits.state("a") == .closed)
        circuits.leave(slow, outcome: .success)
    }

    @Test func aSlowButAnsweringInstanceIsNotAHang() async throws {
        // Floor and ceiling far below its usual time: twice the usual time still counts.
        let circuits = InstanceCircuits(threshold: 5, openFor: .seconds(30), maxInFlight: 2, permitWait: .milliseconds(10),
                                        slowFloor: .milliseconds(20), slowCeiling: .milliseconds(40))
        let first = try await circuits.enter("a")
        try await Task.sleep(for: .milliseconds(500))
        circuits.leave(first, outcome: .success)
        // Its slots taken again, silent for longer than the ceiling but less than twice its
        // usual 500 ms (or more, on a busy machine): the next message finds it busy, not hanging.
        _ = try await circuits.enter("a")
        _ = try await circuits.enter("a")
        try await Task.sleep(for: .milliseconds(150))
        _ = try? await circuits.enter("a")
        #expect(circuits.state("a") == .closed)
    }

    @Test func aHangingTrialReopensTheCircuit() async throws {
        let circuits = InstanceCircuits(threshold: 1, openFor: .milliseconds(50), maxInFlight: 4, permitWait: .milliseconds(10),
                                        slowFloor: .milliseconds(100), slowCeiling: .milliseconds(100))
        circuits.leave(try await circuits.enter("a"), outcome: .failure)
        #expect(circuits.state("a") == .open)
        try await Task.sleep(for: .milliseconds(60))
        _ = try await circuits.enter("a") // the trial, which hangs
        #expect(circuits.state("a") == .halfOpen)
        try await Task.sleep(for: .milliseconds(120))
        do throws(RetryableFailure) {
            _ = try await circuits.enter("a")
            Issue.record("admitted while the trial hangs")
        } catch {
            #expect(error.parked)
            #expect((error.retryAfter ?? .zero) > .milliseconds(30), "parked for the open period, not for a trial's 2 s")
        }
        #expect(circuits.state("a") == .open)
    }

    @Test func aMessageAtTheBulkheadGivesItsIntakePlaceBack() async throws {
        let circuits = InstanceCircuits(threshold: 5, openFor: .seconds(30), maxInFlight: 1, permitWait: .seconds(5))
        let intake = IntakeLimiter(limit: 2)
        #expect(await intake.acquire())
        let holder = intake.slot()
        let permit = try await IntakeSlot.$current.withValue(holder) { try await circuits.enter("a") }
        #expect(intake.held == 0, "admitted: the bulkhead bounds it now")
        #expect(await intake.acquire())
        let waiter = intake.slot()
        let waiting = Task { try await IntakeSlot.$current.withValue(waiter) { try await circuits.enter("a") } }
        #expect(await eventually(5) { circuits.waiting == 1 })
        #expect(intake.held == 0, "waiting at the bulkhead: its place is free for other instances' messages")
        circuits.leave(permit, outcome: .success)
        _ = try await waiting.value
        waiter.giveBack()
        #expect(intake.held == 0, "a place given back twice counts once")
    }

    @Test func theWantedIntakeFollowsTheInstancesInUseAndTheirPace() async throws {
        let circuits = InstanceCircuits(threshold: 1, openFor: .seconds(30), maxInFlight: 3, permitWait: .seconds(1))
        #expect(circuits.wantedIntake() == 0)
        // Not known yet: its cap and the largest room.
        _ = try await circuits.enter("new")
        #expect(circuits.wantedIntake() == 51)
        // Fast (its messages take microseconds): the largest room, 16 × its cap.
        circuits.leave(try await circuits.enter("fast"), outcome: .success)
        #expect(circuits.room("fast") == 48)
        // 100 ms a message or more (a busy machine sleeps longer), three at a time: 30 a second
        // at most, so at most 30 may wait 1 s, and never fewer than its cap.
        let slow = try await circuits.enter("slow")
        try await Task.sleep(for: .milliseconds(100))
        circuits.leave(slow, outcome: .success)
        #expect((3...30).contains(circuits.room("slow")), "\(circuits.room("slow"))")
        #expect(circuits.wantedIntake() == 51 + 51 + 3 + circuits.room("slow"))
        // An open instance's messages are parked, not held; an idle one is not counted.
        circuits.leave(try await circuits.enter("fast"), outcome: .failure)
        #expect(circuits.wantedIntake() == 51 + 3 + circuits.room("slow"))
        #expect(circuits.wantedIntake(activeWithin: .zero) == 0)
    }
}
