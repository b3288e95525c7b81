import AMQP
import Coordination
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMPostgres
import ITSMWorker
import Postgres
import ServiceNow
import ServiceNowSimulator
import TestSupport
import Testing

/// Stops every ``TestStack`` a test made once the test has ended, and waits for that. A stop left
/// to an unstructured task after the test had not run yet when the test process exited, which
/// left the last tests' queues, exchanges and databases behind on the servers.
struct StopsTestStacks: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }
    static let running = IntakeLimiter(limit: 16)

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        guard !test.isSuite else { return try await function() }
        // Each test's stack holds a database pool and its workers' pools (4 connections each):
        // all tests at once took 400 connections. A bounded number at a time keeps the suite
        // within the 200 the README asks of a developer's own PostgreSQL.
        guard await Self.running.acquire() else { throw CancellationError() }
        defer { Self.running.release() }
        let made = MadeStacks()
        do {
            try await MadeStacks.$current.withValue(made) { try await function() }
        } catch {
            await made.stopAll()
            throw error
        }
        await made.stopAll()
    }
}

extension Trait where Self == StopsTestStacks {
    /// For suites whose tests make a ``TestStack``.
    static var stopsTestStacks: Self { Self() }
}
