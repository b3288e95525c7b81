import AMQP
import AsyncHTTPClient
import Foundation
import ITSMCore
import ITSMWorker
import Postgres
import ServiceNowSimulator

/// CPU seconds used by each part of the machine, from /proc, to say what bounds a run.
struct MachineCPU {
    var byPart: [String: Double] = [:]
    var machineBusy = 0.0

    static func now(worker: pid_t) -> MachineCPU {
        var snapshot = MachineCPU()
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let me = getpid()
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            let command = stat[stat.index(after: open)..<close]
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            let part: String
            if pid == worker { part = "worker" }
            else if pid == me { part = "bench (simulators, load generator)" }
            else if command == "postgres" { part = "PostgreSQL" }
            else if command.hasPrefix("beam") || command.hasPrefix("erl") || command == "epmd" || command == "inet_gethost" { part = "RabbitMQ" }
            else { part = "other" }
            snapshot.byPart[part, default: 0] += (user + system) / ticks
        }
        // Whole machine: every CPU's busy time (/proc/stat's first line, minus idle and iowait).
        if let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8), let line = stat.split(separator: "\n").first {
            let values = line.split(separator: " ").dropFirst().compactMap { Double($0) }
            if values.count >= 5 { snapshot.machineBusy = (values.reduce(0, +) - values[3] - values[4]) / ticks }
        }
        return snapshot
    }

    /// CPU seconds each part used from `self` to `later`.
    func used(until later: MachineCPU) -> [String: Double] {
        later.byPart.reduce(into: [:]) { used, entry in used[entry.key] = entry.value - (byPart[entry.key] ?? 0) }
    }

    /// `later - self`, as "part 1.2 s (35 %)" sorted by use, and the machine's busy share.
    func report(until later: MachineCPU, wall: Duration) -> String {
        let used = used(until: later).map { ($0.key, $0.value) }.filter { $0.1 > 0.005 }.sorted { $0.1 > $1.1 }
        let total = used.reduce(0) { $0 + $1.1 }
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        let parts = used.map { String(format: "%@ %.1f s (%.0f %%)", $0.0, $0.1, $0.1 / max(total, 0.001) * 100) }.joined(separator: ", ")
        return parts + String(format: "; machine busy %.0f %% of %.0f cores", (later.machineBusy - machineBusy) / (wall.seconds * cores) * 100, cores)
    }
}
