@testable import ITSMCore
import TestSupport
import Testing

/// The circuit breaker and bulkhead as pure logic (the end-to-end behaviour is in OperationsTests).
@Suite(.timeLimit(.minutes(1)))
struct InstanceCircuitsTests {
    @Test func aMessageOverTheCapWaitsForTheNextFreePermit() async throws {
        let circuits = InstanceCircuits(threshold: 5, openFor: .seconds(30), maxInFlight: 2, permitWait: .seconds(10))
        let first = try await circuits.enter("a")
        _ = try await circuits.enter("a")
        let started = ContinuousClock.now
        let third = Task { try await circuits.enter("a") }
        #expect(await eventually(5) { circuits.waiting == 1 })
        circuits.leave(first, outcome: .success)
        _ = try await third.value
        #expect(ContinuousClock.now - started < .seconds(5), "the waiter was not handed the freed permit")
        // Other instances are not affected by a's cap.
        _ = try await circuits.enter("b")
    }

    @Test func aWaiterAnsweredBeforeItsPermitWaitLeavesNoTimerBehind() async throws {
        // Waits of 2 s at most, far less than the timers' 30 s permit wait.
        let circuits = InstanceCircuits(threshold: 1, openFor: .seconds(30), maxInFlight: 1, permitWait: .seconds(30))
        let first = try await circuits.enter("a")
        let granted = Task { try await circuits.enter("a") }
        #expect(await eventually(2) { circuits.runningTimers == 1 })
        circuits.leave(first, outcome: .success)
        let second = try await granted.value
        #expect(await eventually(2) { circuits.runningTimers == 0 })
        // A waiter refused because the circuit opened does not leave one either.
        let refused = Task { () -> Bool in
            do throws(RetryableFailure) { _ = try await circuits.enter("a"); return true } catch { return false }
        }
        #expect(await eventually(2) { circuits.runningTimers == 1 })
        circuits.leave(second, outcome: .failure)
        #expect(await refused.value == false)
        #expect(await eventually(2) { circuits.runningTimers == 0 })
    }

    @Test func aWaiterIsParkedAfterThePermitWaitAndTheQueueIsBounded() async throws {
        let circuits = InstanceCircuits(threshold: 5, openFor: .seconds(30), maxInFlight: 1, permitWait: .milliseconds(300))
        // A slow instance (400 ms a message): in 300 ms it gets through less than one, so the
        // waiting room is the least, one.
        let slow = try await circuits.enter("a")
        try await Task.sleep(for: .milliseconds(400))
        circuits.leave(slow, outcome: .success)
        #expect(circuits.room("a") == 1)
        _ = try await circuits.enter("a")
        let waiting = Task { () -> Bool in
            do throws(RetryableFailure) { _ = try await circuits.enter("a"); return true } catch { return !error.parked }
        }
        #expect(await eventually(5) { circuits.waiting == 1 })
        // The queue holds one waiter (the cap): the next one is parked at once.
        let started = ContinuousClock.now
        await #expect(throws: RetryableFailure.self) { try await circuits.enter("a") }
        #expect(ContinuousClock.now - started < .milliseconds(200))
        #expect(await waiting.value == false, "the waiter should have been parked after 300 ms")
    }

    @Test func waitersAreParkedAsSoonAsTheCircuitOpens() async throws {
        let circuits = InstanceCircuits(threshold: 1, openFor: .seconds(30), maxInFlight: 1, permitWait: .seconds(10))
        let permit = try await circuits.enter("a")
        let started = ContinuousClock.now
        let waiting = Task { () -> String in
            do throws(RetryableFailure) { _ = try await circuits.enter("a"); return "admitted" } catch { return error.parked ? "parked" : "other" }
        }
        #expect(await eventually(5) { circuits.waiting == 1 })
        circuits.leave(permit, outcome: .failure)
        #expect(await waiting.value == "parked")
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(circuits.state("a") == .open)
        await #expect(throws: RetryableFailure.self) { try await circuits.enter("a") }
    }
}
