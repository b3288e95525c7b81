import AMQP
import Foundation
import ITSMWorker
import Synchronization

/// The worker processes of the suite; a killed one is replaced by a new one.
final class FaultWorkers: Sendable {
    private let environment: [String: String]
    private let processes = Mutex<[WorkerProcess]>([])

    init(environment: [String: String]) {
        self.environment = environment
    }

    func start() throws {
        var environment = self.environment
        let number = processes.withLock { $0.count + 1 }
        environment["ITSM_WORKER_ID"] = "fault-worker-\(number)"
        let process = try WorkerProcess(arguments: ["run"], environment: environment)
        processes.withLock { $0.append(process) }
    }

    /// SIGKILL to the oldest worker still running; returns its number.
    func killOne() -> Int? {
        processes.withLock { processes in
            guard let index = processes.firstIndex(where: { $0.process.isRunning }) else { return nil }
            processes[index].signal(SIGKILL)
            return index + 1
        }
    }

    /// SIGTERM to every running worker; their exit statuses.
    func stopAll() async -> [Int32?] {
        let running = processes.withLock { $0.filter { $0.process.isRunning } }
        for worker in running { worker.signal(SIGTERM) }
        var statuses: [Int32?] = []
        for worker in running { statuses.append(await worker.waitForExit(within: 60)) }
        return statuses
    }

    func reconnectionFailures() -> [Int] {
        processes.withLock { $0 }.map { $0.log.components(separatedBy: "AMQP reconnection failed").count - 1 }
    }

    func killAll() {
        for worker in processes.withLock({ $0 }) where worker.process.isRunning { worker.signal(SIGKILL) }
    }

    /// The last lines of every worker's log, for failure messages.
    func lastLogs(lines: Int = 40) -> String {
        processes.withLock { $0 }.enumerated().map { index, worker in
            "--- worker \(index + 1)\n" + worker.log.split(separator: "\n").suffix(lines).joined(separator: "\n")
        }.joined(separator: "\n")
    }
}
