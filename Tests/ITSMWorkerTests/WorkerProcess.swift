import AMQP
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMWorker
import Postgres
import ServiceNowSimulator
import TestSupport
import Testing

/// A worker as its own process (the built `itsm-worker` binary).
final class WorkerProcess: @unchecked Sendable {
    // @unchecked: `process` is set once in init; Process itself is thread-safe for these calls.
    let process: Process
    let output: URL

    static var binary: URL? {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("itsm-worker"),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("itsm-worker"),
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug/itsm-worker"),
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    init(arguments: [String], environment: [String: String], input: String? = nil) throws {
        guard let binary = Self.binary else { throw TestFailure("itsm-worker is not built next to the tests (run swift build first)") }
        process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = environment
        output = FileManager.default.temporaryDirectory.appendingPathComponent("worker-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try? stdin.fileHandleForWriting.close()
    }

    var log: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    func waitForExit(within seconds: Double) async -> Int32? {
        await eventually(seconds) { !process.isRunning }
        return process.isRunning ? nil : process.terminationStatus
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }
}
