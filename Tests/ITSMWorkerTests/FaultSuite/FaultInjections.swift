import AMQP
import Foundation
import ITSMWorker
import Logging
import Postgres
import ServiceNowSimulator
import Synchronization
import TestSupport

/// One round of faults, in sequence, while the stream runs.
final class FaultInjections: Sendable {
    let stack: TestStack
    let workers: FaultWorkers
    let load: FaultLoad
    private let log = Mutex<[String]>([])
    private let outages = Mutex<[Duration]>([])
    /// From each stop_app to the first connection the broker accepted again.
    var brokerOutages: [Duration] { outages.withLock { $0 } }
    private let started = ContinuousClock.now

    init(stack: TestStack, workers: FaultWorkers, load: FaultLoad) {
        self.stack = stack
        self.workers = workers
        self.load = load
    }

    var summary: String { "injections:\n" + log.withLock { $0 }.joined(separator: "\n") }

    private func note(_ text: String) {
        let elapsed = ContinuousClock.now - started
        let line = String(format: "  %6.1fs  %@", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, text)
        print(line)
        log.withLock { $0.append(line) }
    }

    /// One fault of a round: it starts `after` the previous one has finished.
    struct Step {
        let after: Duration
        let run: () async throws -> Void
    }

    /// The round's timeline. Its pauses are the schedule of the faults (how long the stream
    /// runs between them), not waits for something to happen: this is the one place the
    /// suite sleeps for a fixed time.
    private static func play(_ steps: [Step]) async throws {
        for step in steps {
            try await Task.sleep(for: step.after)
            try await step.run()
        }
    }

    func round(_ round: Int, plan: FaultPlan) async throws {
        var hostile: Task<Void, Never>?
        var stopped = ContinuousClock.now
        let half = plan.outage / 2
        try await Self.play([
            Step(after: .seconds(3)) { [self] in
                note("round \(round): \(plan.hostileMessages) hostile messages")
                hostile = Task { await load.publishHostile(count: plan.hostileMessages, round: round) }
            },
            Step(after: .seconds(7)) { [self] in
                note("429 storm: the next 100 requests to every instance answer 429 (Retry-After: 1)")
                for simulator in stack.simulators { await simulator.store.inject(.status(429, retryAfterSeconds: 1), count: 100, scope: .all) }
            },
            Step(after: .seconds(8)) { [self] in
                note("every instance revokes every token")
                for simulator in stack.simulators { await simulator.store.revokeTokens() }
            },
            Step(after: .seconds(7)) { [self] in
                if let killed = workers.killOne() { note("kill -9 of worker \(killed)") }
            },
            Step(after: .seconds(5)) { [self] in
                try workers.start()
                note("a replacement worker started")
            },
            Step(after: .seconds(5)) { [self] in
                note("RabbitMQ: stop_app")
                stopped = ContinuousClock.now
                note(try await Self.rabbitmqctl("stop_app"))
            },
            Step(after: .seconds(5)) { [self] in
                try await startBroker(stoppedAt: stopped)
            },
            Step(after: .seconds(15)) { [self] in
                try await restartPostgres()
            },
            Step(after: .seconds(15)) { [self] in
                note("ServiceNow outage on every instance: every request hangs for \(half)")
                for simulator in stack.simulators { await simulator.store.inject(.hang, count: -1, scope: .all) }
            },
            Step(after: half) { [self] in
                note("ServiceNow outage: every request answers 503 for \(half)")
                for simulator in stack.simulators {
                    await simulator.store.clearFaults()
                    await simulator.store.inject(.status(503), count: -1, scope: .all)
                }
            },
            Step(after: half) { [self] in
                for simulator in stack.simulators { await simulator.store.clearFaults() }
                note("ServiceNow outage over")
            },
        ])
        await hostile?.value
        note("round \(round) done; \(load.summary)")
    }

    /// `start_app`, and the outage's end: when a client connects again.
    private func startBroker(stoppedAt stopped: ContinuousClock.Instant) async throws {
        // On a loaded machine the CLI sometimes gives up reaching the node; the broker must
        // come back whatever happens, or every later test and round fails for the wrong reason.
        var attempts = 0
        let started = await eventually(60, poll: .seconds(3)) {
            attempts += 1
            do {
                note(try await Self.rabbitmqctl("start_app"))
                return true
            } catch {
                note("start_app failed (attempt \(attempts)); trying again: \(String(describing: error).prefix(120))")
                return false
            }
        }
        guard started else { throw TestFailure("rabbitmqctl start_app kept failing") }
        note("RabbitMQ: start_app")
        // start_app can return before the broker takes clients again: the outage ends when a
        // client connects (or after two minutes, which the checks then show).
        let configuration = try AMQPConfiguration(url: stack.configuration.amqpURL)
        await eventually(120, poll: .seconds(1)) {
            guard let probe = try? await AMQPConnection.connect(configuration, logger: Logger(label: "probe")) else { return false }
            await probe.close()
            return true
        }
        let outage = ContinuousClock.now - stopped
        outages.withLock { $0.append(outage) }
        note("RabbitMQ accepts connections again, \(outage.components.seconds) s after stop_app")
    }

    /// `pg_ctl restart` on the server `scripts/test` started; without its data folder (a server
    /// someone else runs), every backend of the test database is terminated instead.
    private func restartPostgres() async throws {
        let environment = ProcessInfo.processInfo.environment
        if let pgCtl = environment["ITSM_TEST_PG_CTL"], let data = environment["ITSM_TEST_PG_DATA"], FileManager.default.fileExists(atPath: data) {
            note("PostgreSQL: pg_ctl restart -m fast")
            note(try await Self.run(["runuser", "-u", "postgres", "--", pgCtl, "-D", data, "-l", data + "/../server.log", "-m", "fast", "-w", "restart"]))
        } else {
            note("PostgreSQL: no data folder to restart (ITSM_TEST_PG_DATA); terminating every backend of the test database instead")
            let admin = try WorkerTestDatabase.pool(database: nil, size: 1)
            _ = try await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                                        [.text(stack.database)])
            await admin.close()
        }
    }

    static func rabbitmqctl(_ command: String) async throws -> String {
        try await run(["runuser", "-u", "rabbitmq", "--", "env", "HOME=/var/lib/rabbitmq", "ERL_EPMD_ADDRESS=127.0.0.1", "rabbitmqctl", "-q", command])
    }

    /// Runs a command; its output for the injection log, or an error with it.
    @discardableResult
    static func run(_ arguments: [String]) async throws -> String {
        let command = try await Subprocess.run(arguments)
        let text = command.output.trimmingCharacters(in: .whitespacesAndNewlines)
        guard command.status == 0 else { throw TestFailure("\(arguments.joined(separator: " ")) exited with \(command.status): \(text)") }
        return "    \(arguments.suffix(3).joined(separator: " ")): exit 0 \(text)"
    }
}
