import AMQP
import Foundation
import Logging
import TestSupport
import ITSMWorker
import Testing

@Suite struct WorkerConfigurationTests {
    @Test func defaultsAreTheContractDefaults() throws {
        let configuration = try WorkerConfiguration(environment: [:])
        #expect(configuration.amqpURL == "amqp://guest:guest@127.0.0.1:5672/%2f")
        #expect(configuration.databaseURL == "postgres://itsm:itsm@127.0.0.1:5432/itsm")
        #expect(configuration.secretKey == nil)
        #expect(configuration.allowInsecureInstanceURLs == false)
        #expect(configuration.syncInterval == .seconds(60))
        #expect(configuration.httpPort == 9464)
        #expect(configuration.eventLoops == 1)
    }

    @Test func readsTheEnvironment() throws {
        let key = Data(repeating: 7, count: 32).base64EncodedString()
        let configuration = try WorkerConfiguration(environment: [
            "ITSM_AMQP_URL": "amqp://u:p@rabbit:5673/v",
            "ITSM_SECRET_KEY": key,
            "ITSM_ALLOW_INSECURE_INSTANCE_URLS": "true",
            "ITSM_SYNC_INTERVAL": "90s",
            "ITSM_HTTP_PORT": "9000",
            "ITSM_INSTANCE_HOST_ALLOWLIST": "servicenowservices.com, Example.ORG",
            "ITSM_QUEUE_TYPE": "classic",
            "PATH": "/usr/bin",
        ])
        #expect(configuration.amqpURL == "amqp://u:p@rabbit:5673/v")
        #expect(configuration.secretKey == key)
        #expect(configuration.allowInsecureInstanceURLs)
        #expect(configuration.syncInterval == .seconds(90))
        #expect(configuration.httpPort == 9000)
        #expect(configuration.instanceHostAllowlist == ["servicenowservices.com", "example.org"])
        #expect(configuration.queueType == .classic)
        #expect(configuration.unknownSettings.isEmpty)
    }

    @Test(arguments: [
        ("ITSM_SYNC_INTERVAL", "soon"),
        ("ITSM_HTTP_PORT", "70000"),
        ("ITSM_ALLOW_INSECURE_INSTANCE_URLS", "maybe"),
        ("ITSM_SECRET_KEY", "c2hvcnQ="),
        ("ITSM_AMQP_URL", "http://rabbit"),
        ("ITSM_DATABASE_URL", "mysql://db"),
        ("ITSM_QUEUE_TYPE", "stream"),
        ("ITSM_REQUEST_TIMEOUT", "90s"),
        ("ITSM_CLAIM_LEASE", "5s"),
        ("ITSM_EVENT_LOOPS", "0"),
    ])
    func aBadValueNamesItsVariable(_ variable: String, _ value: String) {
        do {
            _ = try WorkerConfiguration(environment: [variable: value])
            Issue.record("\(variable)=\(value) was accepted")
        } catch {
            #expect(error.variable == variable)
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func aFileAddsSettingsAndTheEnvironmentWins() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("itsm-\(UUID()).env").path
        try """
        # settings for the test
        ITSM_HTTP_PORT=9100
        ITSM_SYNC_INTERVAL="2m"
        ITSM_TYPO=1
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let configuration = try WorkerConfiguration(environment: ["ITSM_HTTP_PORT": "9200"], file: path)
        #expect(configuration.httpPort == 9200)
        #expect(configuration.syncInterval == .seconds(120))
        #expect(configuration.unknownSettings == ["ITSM_TYPO"])
    }

    /// An empty variable stands for the default, over the file too: a deployment can blank a
    /// setting that a shared file makes.
    @Test func anEmptyVariableMeansTheDefault() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("itsm-\(UUID()).env").path
        try "ITSM_SYNC_INTERVAL=2m\nITSM_HTTP_PORT=9100\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let defaults = try WorkerConfiguration(environment: [:])
        let configuration = try WorkerConfiguration(environment: ["ITSM_SYNC_INTERVAL": ""], file: path)
        #expect(configuration.syncInterval == defaults.syncInterval)
        #expect(configuration.httpPort == 9100)
        #expect(configuration.unknownSettings.isEmpty)
    }

    /// Names are exact: a setting spelt in another case is reported as unknown and not used
    /// (swift-configuration's environment lookup alone would ignore case).
    @Test func aNameInAnotherCaseIsUnknownAndUnused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("itsm-\(UUID()).env").path
        try "itsm_http_port=9100\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let defaults = try WorkerConfiguration(environment: [:])
        let configuration = try WorkerConfiguration(environment: ["ITSM_Sync_Interval": "2m"], file: path)
        #expect(configuration.httpPort == defaults.httpPort)
        #expect(configuration.syncInterval == defaults.syncInterval)
        #expect(configuration.unknownSettings == ["ITSM_Sync_Interval", "itsm_http_port"])
    }

    @Test func durations() {
        #expect(parseDuration("500ms") == .milliseconds(500))
        #expect(parseDuration("30s") == .seconds(30))
        #expect(parseDuration("5m") == .seconds(300))
        #expect(parseDuration("2h") == .seconds(7200))
        #expect(parseDuration("1d") == .seconds(86400))
        #expect(parseDuration("15") == .seconds(15))
        #expect(parseDuration("-1s") == nil)
        #expect(parseDuration("ten") == nil)
    }
}

@Suite struct WorkerLoggingTests {
    @Test func jsonLinesCarryMetadataAndNeverSecrets() throws {
        let lines = LineSink()
        var logger = Logger(label: "t") { JSONLogHandler(label: $0, level: .debug, write: lines.append) }
        logger[metadataKey: "customer_id"] = "cust-42"
        logger.info("incident created", metadata: ["alert_id": "trg-1", "client_secret": "hunter2", "access_token": "abc", "Authorization": "Bearer x"])
        let line = try #require(lines.all.first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["message"] as? String == "incident created")
        #expect(object["level"] as? String == "info")
        #expect(object["customer_id"] as? String == "cust-42")
        #expect(object["alert_id"] as? String == "trg-1")
        #expect(object["client_secret"] as? String == "[redacted]")
        #expect(object["access_token"] as? String == "[redacted]")
        #expect(!line.contains("hunter2"))
        #expect(!line.contains("Bearer x"))
    }

    @Test func sensitiveKeysAreRedactedWhateverTheirCase() throws {
        let lines = LineSink()
        let logger = Logger(label: "t") { JSONLogHandler(label: $0, level: .debug, write: lines.append) }
        let sensitive = ["X-ServiceNow-TOKEN", "db_Password", "set_cookie", "Credentials", "a_secret", "authorization"]
        let plain = ["alert_id", "tok", "secre", "servicenow.sys_id", ""]
        logger.info("m", metadata: Dictionary(uniqueKeysWithValues: (sensitive + plain).map { ($0, Logger.MetadataValue.string("v-\($0)")) }))
        let line = try #require(lines.all.first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        for key in sensitive { #expect(object[key] as? String == "[redacted]", "\(key)") }
        for key in plain { #expect(object[key] as? String == "v-\(key)", "\(key)") }
    }

    @Test func jsonLinesAreValidJSONWhateverTheTextHolds() throws {
        let lines = LineSink()
        let logger = Logger(label: "t") { JSONLogHandler(label: $0, level: .debug, write: lines.append) }
        let awkward = "quote \" backslash \\ newline \n tab \t bell \u{07} nul \u{00} é 🚨 </script>"
        logger.warning("\(awkward)", metadata: ["b_key": .string(awkward), "a_list": .array(["x", .string(awkward)]),
                                                  "c_map": .dictionary(["k\"": .string(awkward)]), "level": "not the level"])
        let line = try #require(lines.all.first)
        #expect(!line.contains("\n"), "one line per event")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["message"] as? String == awkward)
        #expect(object["b_key"] as? String == awkward)
        #expect((object["a_list"] as? [String]) == ["x", awkward])
        #expect((object["c_map"] as? [String: String]) == ["k\"": awkward])
        #expect(object["level"] as? String == "warning", "metadata cannot overwrite the line's own fields")
        // Keys in a stable order, so lines diff well.
        #expect(line.hasPrefix(#"{"a_list":"#))
    }

    @Test func terminalLinesAreRedactedBeforeTheWrappedHandlerSeesThem() throws {
        let logs = CapturedLogs()
        var logger = Logger(label: "t") { _ in RedactingLogHandler(wrapped: logs.handler()) }
        logger[metadataKey: "access_token"] = "tok-7f3a"
        logger.warning("token refused", metadata: ["alert_id": "trg-1", "client_secret": "hunter2", "Authorization": "Bearer x"])
        let line = try #require(logs.all.first)
        #expect(line.hasPrefix("warning token refused"))
        #expect(line.contains("trg-1"))
        #expect(line.components(separatedBy: "[redacted]").count == 4)
        for secret in ["tok-7f3a", "hunter2", "Bearer x"] { #expect(!line.contains(secret)) }
    }
}
