import Coordination
import Testing

struct BackoffTests {
    let backoff = Backoff(initial: .milliseconds(200), maximum: .seconds(10))

    @Test func theCeilingDoublesUpToTheMaximum() {
        #expect(backoff.ceiling(afterFailures: 0) == .milliseconds(200))
        #expect(backoff.ceiling(afterFailures: 1) == .milliseconds(200))
        #expect(backoff.ceiling(afterFailures: 2) == .milliseconds(400))
        #expect(backoff.ceiling(afterFailures: 6) == .milliseconds(6400))
        #expect(backoff.ceiling(afterFailures: 7) == .seconds(10))
        #expect(backoff.ceiling(afterFailures: Int.max) == .seconds(10))
    }

    @Test func delaysStayInTheUpperHalfOfTheCeilingAndSpreadOut() {
        var seen: Set<Duration> = []
        for failures in 1...12 {
            let ceiling = backoff.ceiling(afterFailures: failures)
            for _ in 0..<200 {
                let delay = backoff.delay(afterFailures: failures)
                #expect(delay >= ceiling / 2 && delay <= ceiling)
                seen.insert(delay)
            }
        }
        // Callers that failed together do not retry together.
        #expect(seen.count > 1000)
    }
}
