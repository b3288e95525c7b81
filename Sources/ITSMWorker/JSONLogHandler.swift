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
        let merged = WorkerLogging.redact(self.metadata.merging(event.metadata ?? [:]) { _, new in new })
        // Written by hand, keys sorted by their bytes: JSONSerialization spent a fifth of the
        // worker's CPU on the one line each alert logs (its key sort compares with a locale).
        var line = "{"
        var first = true
        func field(_ key: String, _ value: Logger.MetadataValue) {
            if !first { line.append(",") }
            first = false
            JSONText.appendQuoted(key, to: &line)
            line.append(":")
            Self.append(value, to: &line)
        }
        let fixed: [(String, Logger.MetadataValue)] = [
            ("level", .string(event.level.rawValue)), ("logger", .string(label)), ("message", .string(event.message.description)),
            ("ts", .string(AlertEvent.formatTimestamp(Date()))),
        ]
        var entries = fixed
        for (key, value) in merged where !fixed.contains(where: { $0.0 == key }) { entries.append((key, value)) }
        entries.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        for (key, value) in entries { field(key, value) }
        line.append("}")
        write(line)
    }

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
