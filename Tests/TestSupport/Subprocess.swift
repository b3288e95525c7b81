import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command to its end without holding a thread of Swift's cooperative pool.
///
/// All test suites share one process, and on a 2-core machine that pool has two threads: a
/// test that blocked one in `waitUntilExit` or `readDataToEndOfFile` while `rabbitmqctl` or
/// Python ran (seconds on a loaded machine) stalled every other test's requests and timers for
/// as long, which showed up as timeouts in unrelated tests. Here the child's output goes to a
/// file and its exit is polled. It also avoids Foundation's `Process`, whose
/// `waitUntilExit` hung when the command left a daemon behind (`pg_ctl restart`).
public enum Subprocess {
    public struct Outcome: Sendable {
        /// The exit status, or 128 + the signal that ended the command.
        public let status: Int32
        public let output: String
    }

    public enum Errors: Sendable {
        /// Standard error goes into `output` with standard output.
        case merged
        case discarded
    }

    /// Runs `arguments` (looked up in `PATH`) with `input` on standard input.
    public static func run(_ arguments: [String], input: Data? = nil, errors: Errors = .merged) async throws -> Outcome {
        let directory = FileManager.default.temporaryDirectory
        let outputPath = directory.appendingPathComponent("subprocess-\(UUID().uuidString).out").path
        let inputPath = directory.appendingPathComponent("subprocess-\(UUID().uuidString).in").path
        defer {
            try? FileManager.default.removeItem(atPath: outputPath)
            try? FileManager.default.removeItem(atPath: inputPath)
        }
        if let input { try input.write(to: URL(fileURLWithPath: inputPath)) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, input == nil ? "/dev/null" : inputPath, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        switch errors {
        case .merged: posix_spawn_file_actions_adddup2(&actions, 1, 2)
        case .discarded: posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, arguments[0], &actions, nil, &argv, environ)
        guard spawned == 0 else { throw SubprocessError(message: "could not start \(arguments[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        // No deadline of its own: the callers' commands carry theirs (`timeout`, a test's limit).
        await eventually(.greatestFiniteMagnitude) { waitpid(pid, &status, WNOHANG) != 0 }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Outcome(status: exitStatus, output: output)
    }
}
