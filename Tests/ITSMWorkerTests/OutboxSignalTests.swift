@testable import ITSMCore
@testable import ITSMWorker
import TestSupport
import Testing

/// The relay's wake-up: notified at once, otherwise after its poll interval, and able to wait
/// again after any of those. (Lower bounds only: a sleep never ends early, so they cannot flake.)
@Suite(.timeLimit(.minutes(1)))
struct OutboxSignalTests {
    /// Whether a wait that nothing wakes lasts its whole timeout.
    func lastsItsTimeout(_ signal: OutboxSignal) async -> Bool {
        let started = ContinuousClock.now
        await signal.wait(timeout: .milliseconds(200))
        return ContinuousClock.now - started >= .milliseconds(200)
    }

    @Test func aWaitThatTimedOutLeavesTheNextWaitsToTheirTimeout() async {
        let signal = OutboxSignal()
        for _ in 0..<3 {
            #expect(await lastsItsTimeout(signal), "a wait returned before its timeout without a notification")
        }
        #expect(signal.bookkeeping == (0, 0))
    }

    @Test func aNotificationWakesTheWaiterAndOneWithoutAWaiterIsKeptForTheNext() async throws {
        let signal = OutboxSignal()
        await signal.wait(timeout: .milliseconds(50))
        let started = ContinuousClock.now
        let waiter = Task { await signal.wait(timeout: .seconds(30)) }
        #expect(await eventually(5) { signal.bookkeeping.waiting == 1 })
        signal.notify()
        _ = await waiter.value
        #expect(ContinuousClock.now - started < .seconds(10), "the notification did not wake the waiter")

        signal.notify()
        let kept = ContinuousClock.now
        await signal.wait(timeout: .seconds(30))
        #expect(ContinuousClock.now - kept < .seconds(10), "a notification without a waiter was lost")
        #expect(await lastsItsTimeout(signal), "one notification woke two waits")
        #expect(signal.bookkeeping == (0, 0))
    }

    @Test func cancellingAWaitEndsItAndLeavesNothingBehind() async throws {
        let signal = OutboxSignal()
        let started = ContinuousClock.now
        let waiter = Task { await signal.wait(timeout: .seconds(30)) }
        #expect(await eventually(5) { signal.bookkeeping.waiting == 1 })
        waiter.cancel()
        _ = await waiter.value
        #expect(ContinuousClock.now - started < .seconds(10))
        // Cancelled before it began: returns without parking.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            await signal.wait(timeout: .seconds(30))
        }
        await early.value
        #expect(signal.bookkeeping == (0, 0))
        #expect(await lastsItsTimeout(signal))
    }

    /// Events are handed over only while a relay runs, and not past the limit of those waiting
    /// for it: a stuck relay leaves the rest to the poll instead of memory.
    @Test func handOffsNeedARunningRelayThatKeepsUp() async {
        let signal = OutboxSignal()
        #expect(!signal.takesHandoffs)
        signal.relayStarted()
        #expect(signal.takesHandoffs)
        for id in 0..<OutboxSignal.handedLimit {
            signal.hand(OutboxEntry(id: id, eventID: "e\(id)", routingKey: "ticket.created", payload: []))
        }
        #expect(!signal.takesHandoffs)
        #expect(await signal.wait(timeout: .seconds(30)).handed.count == OutboxSignal.handedLimit)
        #expect(signal.takesHandoffs)
        signal.relayStopped()
        #expect(!signal.takesHandoffs)
    }
}
