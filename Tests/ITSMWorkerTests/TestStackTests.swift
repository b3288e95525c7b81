import AMQP
import ITSMAMQP
import ITSMWorker
import Logging
import Postgres
import Synchronization
import Testing

/// The test stack's own clean-up: the servers are shared with other runs and developers, so what
/// a test made must be gone from them when the test ends.
@Suite(.timeLimit(.minutes(2)))
struct TestStackTests {
    @Test func whatATestMadeIsGoneFromTheServersWhenItsScopeEnds() async throws {
        let test = try #require(Test.current)
        let made = Mutex<(database: String, broker: String, queues: [String], exchanges: [String])?>(nil)
        try await StopsTestStacks().provideScope(for: test, testCase: Test.Case.current) {
            let stack = try await TestStack.make()
            let topology = stack.topology
            made.withLock {
                $0 = (stack.database, stack.configuration.amqpURL, [topology.alertsQueue, topology.statusQueue, topology.deadQueue, "test.\(stack.id).observed"],
                      [topology.alertsExchange, topology.eventsExchange])
            }
        }
        let (database, broker, queues, exchanges) = try #require(made.withLock { $0 })

        let admin = try WorkerTestDatabase.pool(database: nil, size: 1)
        let databases = try await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [.text(database)])
        await admin.close()
        #expect(databases.isEmpty, "database \(database) is still there")

        let connection = try await AMQPConnection.connect(try AMQPConfiguration(url: broker), logger: Logger(label: "check"))
        for queue in queues {
            await #expect(throws: AMQPError.self, "queue \(queue) is still there") { try await connection.inspectQueue(queue) }
        }
        for exchange in exchanges {
            await #expect(throws: AMQPError.self, "exchange \(exchange) is still there") {
                try await connection.publish(Array("x".utf8), exchange: exchange, routingKey: "check")
            }
        }
        await connection.close()
    }

    @Test func aStackMadeWithoutTheTraitIsRefused() async {
        await #expect(throws: MadeStacks.Missing.self) { try await TestStack.make() }
    }
}
