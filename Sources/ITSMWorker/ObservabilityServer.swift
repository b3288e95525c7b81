import AMQP
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `/metrics` (Prometheus text), `/healthz` (the process answers) and `/readyz` (RabbitMQ and
/// PostgreSQL reachable, and the broker not blocking this connection) on `ITSM_HTTP_PORT`.
struct ObservabilityServer: Service {
    let port: Int
    let metrics: WorkerMetrics
    let health: HealthState
    let amqp: AMQPConnection
    let logger: Logger

    func run() async throws {
        let router = Router()
        let metrics = self.metrics, health = self.health, amqp = self.amqp
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ -> Response in
            var problems: [String] = []
            if !amqp.isConnected { problems.append("rabbitmq disconnected") }
            if let reason = amqp.blocked { problems.append("rabbitmq blocked publishing (\(reason))") }
            if !health.databaseReachable { problems.append("postgresql unreachable") }
            let body = problems.isEmpty ? "ready\n" : "not ready: \(problems.joined(separator: ", "))\n"
            return Response(status: problems.isEmpty ? .ok : .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        var serverLogger = logger
        serverLogger.logLevel = .warning
        let log = logger
        let app = Application(router: router, configuration: .init(address: .hostname("0.0.0.0", port: port), serverName: "itsm-worker"),
                              onServerRunning: { channel in
                                  health.setPort(channel.localAddress?.port ?? 0)
                                  log.info("observability endpoints listening", metadata: ["port": "\(channel.localAddress?.port ?? 0)"])
                              }, logger: serverLogger)
        try await app.runService(gracefulShutdownSignals: [])
    }
}
