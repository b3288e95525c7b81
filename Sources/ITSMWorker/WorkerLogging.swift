import Logging

/// Sets up swift-log once per process from the configuration.
public enum WorkerLogging {
    public static func bootstrap(_ configuration: WorkerConfiguration) {
        let level = Logger.Level(rawValue: configuration.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
