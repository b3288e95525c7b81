import Coordination
import Synchronization
import TestSupport
import Testing

/// A lot whose state is a number of free tokens: `take` gets one or parks for one.
private func take(_ lot: ParkingLot<Int, Bool>, tag: String = "", timeout: Duration? = .seconds(30)) async -> Bool {
    await lot.park(tag: tag, timeout: timeout, onTimeout: false, onCancel: false) { free, _ in
        guard free > 0 else { return nil }
        free -= 1
        return true
    }
}

/// Hands a token to the longest waiter, or keeps it.
private func give(_ lot: ParkingLot<Int, Bool>, tag: String? = nil) {
    lot.withLock { free, waiters in
        if !waiters.resumeFirst(with: true, tag: tag) { free += 1 }
    }
}

/// Shared counters for the tasks of one test.
private final class Tally: Sendable {
    let order = Mutex<[Int]>([])
    let held = Atomic<Int>(0)
    let peak = Atomic<Int>(0)
}

/// Whether the lot's timers are all gone within a few seconds: a cancelled timer ends when its
/// task next runs, not at the cancel.
private func timersEnd(_ lot: ParkingLot<Int, Bool>) async -> Bool {
    let deadline = ContinuousClock.now + .seconds(5)
    while lot.runningTimers > 0 && ContinuousClock.now < deadline { await Task.yield() }
    return lot.runningTimers == 0
}

/// Waits (without a fixed sleep) until `count` tasks are parked. Sleeping between looks, with a
/// deadline: a loop of `Task.yield()` that never ends starves the cooperative pool, and with it
/// every other test of the run, where this fails.
private func parked(_ lot: ParkingLot<Int, Bool>, _ count: Int) async {
    let reached = await eventually(20, poll: .milliseconds(1)) { lot.bookkeeping.parked >= count }
    #expect(reached, "fewer than \(count) tasks parked")
}

@Suite(.timeLimit(.minutes(1)))
struct ParkingLotTests {
    @Test func aFreeTokenIsTakenAtOnceAndAGivenOneGoesToTheLongestWaiter() async {
        let lot = ParkingLot<Int, Bool>(1)
        #expect(await take(lot))
        let tally = Tally()
        let first = Task { let got = await take(lot); tally.order.withLock { $0.append(1) }; return got }
        await parked(lot, 1)
        let second = Task { let got = await take(lot); tally.order.withLock { $0.append(2) }; return got }
        await parked(lot, 2)
        give(lot)
        #expect(await first.value)
        #expect(lot.bookkeeping.parked == 1)
        give(lot)
        #expect(await second.value)
        #expect(tally.order.withLock { $0 } == [1, 2])
        #expect(lot.withLock { free, _ in free } == 0, "a handed token was also kept")
        #expect(lot.bookkeeping == (0, 0))
        #expect(await timersEnd(lot))
    }

    @Test func aWaitEndsWithItsTimeoutValueAndLeavesNothingBehind() async {
        let lot = ParkingLot<Int, Bool>(0)
        let started = ContinuousClock.now
        #expect(await take(lot, timeout: .milliseconds(100)) == false)
        #expect(ContinuousClock.now - started >= .milliseconds(100))
        #expect(lot.bookkeeping == (0, 0))
        // A token given after the timeout is kept, not lost to the ended wait.
        give(lot)
        #expect(lot.withLock { free, _ in free } == 1)
    }

    @Test func cancellationEndsAParkedWaitAndOneNotYetParked() async {
        let lot = ParkingLot<Int, Bool>(0)
        let parkedWait = Task { await take(lot) }
        await parked(lot, 1)
        parkedWait.cancel()
        #expect(await parkedWait.value == false)
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await take(lot)
        }
        #expect(await early.value == false)
        #expect(lot.bookkeeping == (0, 0))
        #expect(await timersEnd(lot))
    }

    @Test func tagsKeepTheirOwnQueues() async {
        let lot = ParkingLot<Int, Bool>(0)
        let a = Task { await take(lot, tag: "a") }
        await parked(lot, 1)
        let b = Task { await take(lot, tag: "b") }
        await parked(lot, 2)
        #expect(lot.withLock { _, waiters in waiters.count(tag: "b") } == 1)
        give(lot, tag: "b")
        #expect(await b.value)
        lot.withLock { _, waiters in waiters.resumeAll(with: false, tag: "a") }
        #expect(await a.value == false)
        #expect(lot.bookkeeping == (0, 0))
    }

    /// An untagged hand-over goes to the longest wait of all tags; a tag's count follows its
    /// waits as they are handed a value, time out or are cancelled.
    @Test func untaggedHandOverTakesTheOldestWaitAcrossTagsAndCountsFollowEveryEnd() async {
        let lot = ParkingLot<Int, Bool>(0)
        let tally = Tally()
        func waiter(_ tag: String, _ number: Int, timeout: Duration? = .seconds(30)) -> Task<Bool, Never> {
            Task {
                let got = await take(lot, tag: tag, timeout: timeout)
                if got { tally.order.withLock { $0.append(number) } }
                return got
            }
        }
        let b1 = waiter("b", 1)
        await parked(lot, 1)
        let a2 = waiter("a", 2)
        await parked(lot, 2)
        let b3 = waiter("b", 3)
        await parked(lot, 3)
        let a5 = waiter("a", 5)
        await parked(lot, 4)
        #expect(lot.withLock { _, waiters in [waiters.count(tag: "a"), waiters.count(tag: "b"), waiters.count(tag: "c")] } == [2, 2, 0])
        // (Not waited for as parked: it may time out before it is seen.)
        let a4 = waiter("a", 4, timeout: .milliseconds(50))
        #expect(await a4.value == false)
        #expect(lot.withLock { _, waiters in [waiters.count(tag: "a"), waiters.count] } == [2, 4])
        b3.cancel()
        #expect(await b3.value == false)
        #expect(lot.withLock { _, waiters in [waiters.count(tag: "b"), waiters.count] } == [1, 3])

        give(lot)
        #expect(await b1.value)
        give(lot)
        #expect(await a2.value)
        give(lot)
        #expect(await a5.value)
        #expect(tally.order.withLock { $0 } == [1, 2, 5])
        give(lot)
        #expect(lot.withLock { free, waiters in [free, waiters.count, waiters.count(tag: "a")] } == [1, 0, 0])
        #expect(lot.bookkeeping == (0, 0))
        #expect(await timersEnd(lot))
    }

    /// A storm parks thousands of waits on one tag, concurrently: the tag's count stays exact
    /// and every one of them is handed its value.
    @Test func thousandsParkedConcurrentlyOnOneTagAreCountedAndAllReleased() async {
        let lot = ParkingLot<Int, Bool>(0)
        let parkedCount = 5_000
        let order = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<parkedCount {
                group.addTask {
                    if await take(lot, tag: "storm", timeout: nil) { order.held.add(1, ordering: .relaxed) }
                }
            }
            await parked(lot, parkedCount)
            #expect(lot.withLock { _, waiters in [waiters.count(tag: "storm"), waiters.count] } == [parkedCount, parkedCount])
            lot.withLock { _, waiters in
                for _ in 0..<parkedCount { waiters.resumeFirst(with: true, tag: "storm") }
            }
        }
        #expect(order.held.load(ordering: .relaxed) == parkedCount)
        #expect(lot.bookkeeping == (0, 0))
    }

    /// Many tasks take and give a few tokens at once: every token handed out comes back, none
    /// is lost between a task deciding to park and parking, and nobody waits for ever.
    @Test func underContentionNoTokenIsLostAndEveryWaitEnds() async {
        let tokens = 3
        let lot = ParkingLot<Int, Bool>(tokens)
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<64 {
                group.addTask {
                    for _ in 0..<200 {
                        guard await take(lot) else { continue }
                        let now = tally.held.add(1, ordering: .relaxed).newValue
                        tally.peak.max(now, ordering: .relaxed)
                        await Task.yield()
                        tally.held.subtract(1, ordering: .relaxed)
                        give(lot)
                    }
                }
            }
        }
        #expect(tally.peak.load(ordering: .relaxed) <= tokens)
        #expect(lot.withLock { free, _ in free } == tokens)
        #expect(lot.bookkeeping == (0, 0))
        #expect(await timersEnd(lot))
    }
}
