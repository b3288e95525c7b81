import Coordination
import Synchronization
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(1)))
struct CoalescerTests {
    @Test func aQuietRequestRunsAloneAtOnce() async throws {
        let coalescer = Coalescer<Int, Int>(maximumBatch: 8, leaders: 1) { batch in batch.map { .success($0 * 2) } }
        #expect(try await coalescer.submit(21) == 42)
        #expect(coalescer.counts.batches == 1)
    }

    @Test func requestsArrivingWhileABatchRunsGoTogetherAndEachGetsItsAnswer() async throws {
        let gate = Gate()
        let sizes = Mutex<[Int]>([])
        let coalescer = Coalescer<Int, Int>(maximumBatch: 4, leaders: 1) { batch in
            sizes.withLock { $0.append(batch.count) }
            if batch.first == 0 { await gate.wait() }
            return batch.map { $0 == 3 ? .failure(Odd()) : .success($0 * 10) }
        }
        let first = Task { try await coalescer.submit(0) }
        #expect(await eventually(5) { sizes.withLock { $0 } == [1] })
        let queued = (1...6).map { n in Task { try? await coalescer.submit(n) } }
        #expect(await eventually(5) { coalescer.counts.requests == 1 })
        try await Task.sleep(for: .milliseconds(50))
        gate.open()
        #expect(try await first.value == 0)
        var answers: [Int?] = []
        for task in queued { answers.append(await task.value) }
        #expect(answers == [10, 20, nil, 40, 50, 60], "request 3's failure is its own")
        // One alone, then the six that queued behind it in batches of at most four.
        #expect(sizes.withLock { $0 }.reduce(0, +) == 7)
        #expect(sizes.withLock { $0 }.count == 3)
        #expect(sizes.withLock { $0 }.max() == 4)
    }

    @Test func aBusyCoalescerLingersForCompany() async throws {
        let sizes = Mutex<[Int]>([])
        let coalescer = Coalescer<Int, Int>(maximumBatch: 8, leaders: 1, linger: .seconds(2)) { batch in
            sizes.withLock { $0.append(batch.count) }
            return batch.map { .success($0) }
        }
        // Quiet: the first request runs alone, at once.
        let started = ContinuousClock.now
        #expect(try await coalescer.submit(0) == 0)
        #expect(ContinuousClock.now - started < .milliseconds(1500), "it lingered although nothing ran before it")
        // Busy (the next comes within the linger): it waits, and those arriving meanwhile join it.
        let first = Task { try await coalescer.submit(1) }
        try await Task.sleep(for: .milliseconds(50))
        let second = Task { try await coalescer.submit(2) }
        #expect(try await first.value == 1)
        #expect(try await second.value == 2)
        #expect(sizes.withLock { $0 } == [1, 2])
    }

    @Test func aFailedBatchAnswersEachOfItsRequestsWithTheError() async throws {
        let coalescer = Coalescer<Int, Int>(maximumBatch: 8, leaders: 1) { _ in throw Odd() }
        await #expect(throws: Odd.self) { try await coalescer.submit(1) }
        // And the next request still finds the coalescer working.
        await #expect(throws: Odd.self) { try await coalescer.submit(2) }
    }
}

private struct Odd: Error {}

/// Holds a batch until the test opens it.
private final class Gate: Sendable {
    private let opened = Atomic<Bool>(false)
    func open() { opened.store(true, ordering: .releasing) }
    func wait() async {
        while !opened.load(ordering: .acquiring) { try? await Task.sleep(for: .milliseconds(5)) }
    }
}
