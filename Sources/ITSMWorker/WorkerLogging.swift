import Foundation
import ITSMCore
import Logging

/// Sets up swift-log once per process from the configuration: readable lines in a terminal,
/// one JSON object per line in production (`ITSM_LOG_FORMAT=json`).
public enum WorkerLogging {
    public static func bootstrap(_ configuration: WorkerConfiguration) {
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        let json = configuration.logFormat == .json
        LoggingSystem.bootstrap { label in
            if json { return JSONLogHandler(label: label, level: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return RedactingLogHandler(wrapped: handler)
        }
    }

    /// Metadata keys whose values are never written, whatever a caller puts there.
    static func isSensitive(_ key: String) -> Bool {
        let lower = key.lowercased()
        return ["secret", "token", "password", "authorization", "credential", "cookie"].contains { lower.contains($0) }
    }

    static func redact(_ metadata: Logger.Metadata) -> Logger.Metadata {
        metadata.reduce(into: [:]) { result, entry in
            result[entry.key] = isSensitive(entry.key) ? "[redacted]" : entry.value
        }
    }
}

/// Redacts sensitive metadata keys before another handler writes the line.
public struct RedactingLogHandler: LogHandler {
    var wrapped: any LogHandler

    public init(wrapped: any LogHandler) {
        self.wrapped = wrapped
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue.map { WorkerLogging.isSensitive(key) ? "[redacted]" : $0 } }
    }

    public func log(event: LogEvent) {
        var event = event
        event.metadata = event.metadata.map(WorkerLogging.redact)
        wrapped.log(event: event)
    }
}

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
        var object: [String: Any] = [
            "ts": AlertEvent.formatTimestamp(Date()),
            "level": event.level.rawValue, "logger": label, "message": event.message.description,
        ]
        let merged = WorkerLogging.redact(self.metadata.merging(event.metadata ?? [:]) { _, new in new })
        for (key, value) in merged where object[key] == nil { object[key] = Self.plain(value) }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        write(String(decoding: data, as: UTF8.self))
    }

    static func plain(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let s): return s.description
        case .array(let values): return values.map(plain)
        case .dictionary(let values): return values.mapValues(plain)
        }
    }
}
