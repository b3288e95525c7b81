import AMQP
import Testing

@Suite struct AMQPConfigurationTests {
    @Test func parsesEveryPartAndPercentDecodes() throws {
        let config = try AMQPConfiguration(url: "amqp://us%40er:p%3Ass@broker.example:5673/my%2fvhost?heartbeat=7")
        #expect(config.username == "us@er")
        #expect(config.password == "p:ss")
        #expect(config.host == "broker.example")
        #expect(config.port == 5673)
        #expect(config.virtualHost == "my/vhost")
        #expect(config.heartbeatSeconds == 7)
    }

    @Test func defaultsMatchRabbitMQ() throws {
        let config = try AMQPConfiguration(url: "amqp://localhost")
        #expect(config.username == "guest")
        #expect(config.password == "guest")
        #expect(config.port == 5672)
        #expect(config.virtualHost == "/")
        #expect(try AMQPConfiguration(url: "amqp://h/%2f").virtualHost == "/")
        #expect(try AMQPConfiguration(url: "amqp://h/").virtualHost == "/")
    }

    @Test(arguments: ["http://host/", "amqps://host/", "amqp://host/a/b", "not a url at all", "amqp://h:99999/"])
    func refusesWhatItCannotUse(_ url: String) {
        #expect(throws: AMQPError.self) { try AMQPConfiguration(url: url) }
    }

    @Test func descriptionsNeverContainThePassword() throws {
        let config = try AMQPConfiguration(url: "amqp://user:s3cr3t-pw@host:5672/%2f")
        #expect(!config.redactedURL.contains("s3cr3t-pw"))
        let errors: [AMQPError] = [
            .connectFailed(host: config.host, port: config.port, reason: "refused"),
            .loginFailed(reason: "ACCESS_REFUSED"),
        ]
        for error in errors { #expect(!error.description.contains("s3cr3t-pw")) }
    }
}
