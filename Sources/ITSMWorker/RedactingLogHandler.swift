import Foundation
import Logging

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
