import Foundation
import ITSMCore
import JSONText
import Logging

/// One JSON object per line on standard error: `ts`, `level`, `logger`, `message`, then the
/// metadata (`alert_id`, `event_id`, `customer_id`, `network_id`, `servicenow.sys_id`, …) with
/// sensitive keys redacted.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let write: @Sendable (String) -> Void

    public init(label: String, level: Logger.Level, write: @escaping @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }) {
        self.label = label
        self.logLevel = level
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // Written by hand, keys sorted by their bytes: JSONSerialization spent a fifth of the
        // worker's CPU on the one line each alert logs (its key sort compares with a locale).
        // The event's metadata wins over the handler's; sensitive values are redacted.
        var entries: [(String, Logger.MetadataValue)] = [
            ("level", .string(event.level.rawValue)), ("logger", .string(label)), ("message", .string(event.message.description)),
            ("ts", .string(AlertEvent.formatTimestamp(Date()))),
        ]
        entries.reserveCapacity(entries.count + metadata.count + (event.metadata?.count ?? 0))
        func add(_ key: String, _ value: Logger.MetadataValue) {
            guard !Self.fixedKeys.contains(key) else { return }
            entries.append((key, WorkerLogging.isSensitive(key) ? "[redacted]" : value))
        }
        for (key, value) in metadata where event.metadata?[key] == nil { add(key, value) }
        for (key, value) in event.metadata ?? [:] { add(key, value) }
        entries.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        var line = "{"
        for (index, (key, value)) in entries.enumerated() {
            if index > 0 { line.append(",") }
            JSONText.appendQuoted(key, to: &line)
            line.append(":")
            Self.append(value, to: &line)
        }
        line.append("}")
        write(line)
    }

    private static let fixedKeys: Set<String> = ["level", "logger", "message", "ts"]

    static func append(_ value: Logger.MetadataValue, to line: inout String) {
        switch value {
        case .string(let text): JSONText.appendQuoted(text, to: &line)
        case .stringConvertible(let convertible): JSONText.appendQuoted(convertible.description, to: &line)
        case .array(let values):
            line.append("[")
            for (index, element) in values.enumerated() {
                if index > 0 { line.append(",") }
                append(element, to: &line)
            }
            line.append("]")
        case .dictionary(let values):
            line.append("{")
            for (index, key) in values.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if index > 0 { line.append(",") }
                JSONText.appendQuoted(key, to: &line)
                line.append(":")
                append(values[key]!, to: &line)
            }
            line.append("}")
        }
    }
}
