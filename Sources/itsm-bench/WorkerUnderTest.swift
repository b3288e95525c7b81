import AMQP
import AsyncHTTPClient
import Foundation
import ITSMCore
import ITSMWorker
import Postgres
import ServiceNowSimulator

/// The worker under test, as its own process, so that its CPU time and memory can be read.
final class WorkerUnderTest: @unchecked Sendable {
    // @unchecked: set once in init; Process is safe for these calls.
    let process: Process

    init(binary: String, environment: [String: String]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run"]
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("itsm-bench-worker.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
    }

    /// User + system CPU seconds so far.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Voluntary context switches so far of the worker's live threads: a thread going to sleep
    /// until another wakes it, which is what a hop to a pool or an event loop costs. Preemptions
    /// (involuntary) are left out: they count the machine's load. A thread that ends during a run
    /// takes its count with it (Dispatch retires idle workers; under scenario 1's load they are
    /// busy), so this can only undercount.
    var contextSwitches: Int {
        let tasks = "/proc/\(process.processIdentifier)/task"
        guard let threads = try? FileManager.default.contentsOfDirectory(atPath: tasks) else { return 0 }
        return threads.reduce(0) { total, thread in
            guard let status = try? String(contentsOfFile: "\(tasks)/\(thread)/status", encoding: .utf8) else { return total }
            return total + status.split(separator: "\n").reduce(0) { sum, line in
                guard line.hasPrefix("voluntary_ctxt_switches:"),
                      let count = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) else { return sum }
                return sum + count
            }
        }
    }

    /// Resident memory now, its anonymous (private heap and stacks) part, and the peak, in MB.
    var memory: (current: Double, anonymous: Double, peak: Double) {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return (0, 0, 0) }
        func value(_ key: String) -> Double {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return 0 }
            return (Double(line.split(separator: " ").dropFirst().first { !$0.isEmpty } ?? "0") ?? 0) / 1024
        }
        return (value("VmRSS:"), value("RssAnon:"), value("VmHWM:"))
    }

    func stop() {
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
