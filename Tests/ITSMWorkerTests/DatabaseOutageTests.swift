import Foundation
import ITSMCore
@testable import ITSMWorker
import Postgres
import Testing

/// While PostgreSQL is away, messages wait in the retry queues without using up their attempts
/// and without a hot requeue loop, and every one of them is handled once it is back.
///
/// The outage is this test's own database refusing connections (`ALLOW_CONNECTIONS false` and its
/// backends terminated), so the shared server and the other tests go on.
@Suite(.stopsTestStacks, .timeLimit(.minutes(3)))
struct DatabaseOutageTests {
    static let outage: Duration = .seconds(20)

    @Test func messagesWaitOutADatabaseOutageWithoutUsingTheirAttempts() async throws {
        // The default retry tiers (2 s, 10 s, …): three attempts counted against the outage would
        // be used up within it.
        let stack = try await TestStack.make(configure: {
            $0.retryDelays = WorkerConfiguration().retryDelays
            $0.maxAttempts = 3
        })
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        let worker = try await stack.startWorker()
        let admin = try WorkerTestDatabase.pool(database: nil, size: 1)
        defer { Task { await admin.close() } }

        let before = Self.settlements(worker)
        try await admin.execute("ALTER DATABASE \(stack.database) ALLOW_CONNECTIONS false")
        _ = try await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [.text(stack.database)])
        let alerts = (1...5).map { "trg-outage-\($0)-\(UUID().uuidString.prefix(4))" }
        do {
            for alertID in alerts { try await stack.publishRaised(alertID: alertID) }
            // The outage itself: what is measured is how often the worker tried meanwhile.
            try await Task.sleep(for: Self.outage)
        } catch {
            try await admin.execute("ALTER DATABASE \(stack.database) ALLOW_CONNECTIONS true")
            throw error
        }
        let duringOutage = Self.settlements(worker) - before
        try await admin.execute("ALTER DATABASE \(stack.database) ALLOW_CONNECTIONS true")

        // Parked for at least 10 s each time: two or three tries per alert in 20 s, not hundreds.
        #expect(duringOutage <= alerts.count * 3, "\(duringOutage) settlements of \(alerts.count) alerts during a \(Self.outage) outage: \(worker.runtime.metrics.render().split(separator: "\n").filter { $0.hasPrefix("itsm_messages_total") })")
        #expect(duringOutage >= alerts.count, "the alerts were not tried during the outage")
        #expect(await stack.eventually(40) { alerts.allSatisfy { stack.events.forAlert($0, type: "ticket.created").count == 1 } })
        #expect(alerts.allSatisfy { stack.events.forAlert($0, type: "ticket.failed").isEmpty })
        #expect(await stack.incidents().count == alerts.count)
        let metrics = worker.runtime.metrics.render()
        #expect(!metrics.contains(#"itsm_dead_lettered_total{reason="retries_exhausted"}"#))
    }

    /// Settlements of `alert.raised` so far: every try, whatever its outcome.
    static func settlements(_ worker: RunningWorker) -> Int {
        worker.runtime.metrics.render().split(separator: "\n")
            .filter { $0.hasPrefix(#"itsm_messages_total{type="alert.raised""#) }
            .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }
            .reduce(0, +)
    }
}
