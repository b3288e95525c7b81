import Coordination
import Testing

/// Time-limited: a wait that never ends must fail the test, not hang the suite.
@Suite(.timeLimit(.minutes(1)))
struct LingerTests {
    /// The wait is on an event loop's timer, whichever thread the task runs on; it lasts at
    /// least what was asked, and many at once all end.
    @Test func waitsAtLeastTheDurationAndManyAtOnceAllEnd() async {
        let started = ContinuousClock.now
        await Linger.wait(for: .milliseconds(50))
        #expect(ContinuousClock.now - started >= .milliseconds(50))
        let ended = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<500 { group.addTask { await Linger.wait(for: .milliseconds(2)); return 1 } }
            return await group.reduce(0, +)
        }
        #expect(ended == 500)
    }
}
