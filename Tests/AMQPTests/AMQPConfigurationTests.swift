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

    @Test func amqpsAndClusterLists() throws {
        let tls = try AMQPConfiguration(url: "amqps://u:p@broker.example/%2f?cacertfile=/etc/ca.pem&certfile=/c.pem&keyfile=/k.pem")
        #expect(tls.port == 5671)
        #expect(tls.tls == AMQPConfiguration.TLS(caFile: "/etc/ca.pem", certificateFile: "/c.pem", keyFile: "/k.pem"))
        #expect(try AMQPConfiguration(url: "amqps://broker.example").tls?.caFile == nil, "no CA file: the system's CAs")
        let cluster = try AMQPConfiguration(url: "amqp://u:p@n1:5672/v, amqp://u:p@n2:5673/v,amqp://u:p@n3/v")
        #expect(cluster.endpoints.map(\.description) == ["n1:5672", "n2:5673", "n3:5672"])
        #expect(cluster.virtualHost == "v")
        #expect(cluster.redactedURL == "amqp://u@n1:5672/v,amqp://u@n2:5673/v,amqp://u@n3:5672/v")
        #expect(!cluster.redactedURL.contains(":p@"))
    }

    @Test(arguments: ["http://host/", "amqp://host/a/b", "not a url at all", "amqp://h:99999/",
                      "amqps://h/?verify=verify_none", "amqp://h/?cacertfile=/ca.pem", "amqps://h/?certfile=/c.pem",
                      "amqp://u:p@n1/v,amqp://u:other@n2/v", "amqp://n1/v,amqps://n2/v", "amqp://n1/a,amqp://n2/b", "amqp://n1/,"])
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
