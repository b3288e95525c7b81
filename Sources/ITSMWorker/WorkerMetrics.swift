import CoreMetrics
import Foundation
import ITSMAMQP
import ITSMCore
import Metrics
import Prometheus
import ServiceNow

/// The worker's metrics, in its own Prometheus registry (served on `/metrics`).
///
/// Names are constant and label sets small and closed: message `type` and `outcome`,
/// ServiceNow `instance` host, `operation` and `status_class`, the `reason` of a dead-letter.
/// Per-integration series (sync lag) grow with the number of integrations, not of alerts.
public final class WorkerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                                                   .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30)]
        self.factory = factory
    }

    /// The Prometheus text exposition.
    public func render() -> String { registry.emitToString() }

    func count(_ name: String, _ dimensions: [(String, String)] = [], by amount: Int = 1) {
        Counter(label: name, dimensions: dimensions, factory: factory).increment(by: amount)
    }

    func gauge(_ name: String, _ dimensions: [(String, String)] = [], _ value: Double) {
        Gauge(label: name, dimensions: dimensions, factory: factory).record(value)
    }

    func time(_ name: String, _ dimensions: [(String, String)], _ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        Metrics.Timer(label: name, dimensions: dimensions, factory: factory).recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    // MARK: Events

    func processed(type: String, settlement: MessageProcessor.Settlement, duration: Duration) {
        let outcome: String
        switch settlement {
        case .acked(let result): outcome = result.label.hasPrefix("skipped") ? "skipped" : result.label
        case .retryScheduled: outcome = "retry"
        case .deadLettered: outcome = "dead_lettered"
        case .requeued: outcome = "requeued"
        case .held: outcome = "held"
        }
        count("itsm_messages_total", [("type", type), ("outcome", outcome)])
        time("itsm_message_processing_seconds", [("type", type)], duration)
        if case .retryScheduled = settlement { count("itsm_retries_total", [("type", type)]) }
        if case .deadLettered(let code) = settlement { count("itsm_dead_lettered_total", [("reason", code)]) }
    }

    func serviceNowRequest(_ record: ServiceNowClient.RequestRecord) {
        let host = record.host
        let statusClass = record.status.map { "\($0 / 100)xx" } ?? (record.error?.kind.rawValue ?? "error")
        count("itsm_servicenow_requests_total", [("instance", host), ("operation", record.operation), ("status_class", statusClass)])
        time("itsm_servicenow_request_seconds", [("instance", host), ("operation", record.operation)], record.duration)
        if record.operation == "token" { count("itsm_token_requests_total", [("instance", host)]) }
    }

    func outbox(backlog: Int, oldestAge: Double) {
        gauge("itsm_outbox_backlog", [], Double(backlog))
        gauge("itsm_outbox_oldest_age_seconds", [], oldestAge)
    }

    func syncLag(customerID: String, seconds: Double) {
        gauge("itsm_sync_lag_seconds", [("customer", customerID)], seconds)
    }

    func circuit(instance: String, state: CircuitState) {
        let host = URLComponents(string: instance)?.host ?? instance
        gauge("itsm_circuit_state", [("instance", host)], Double(state.rawValue))
        if state == .open { count("itsm_circuit_opened_total", [("instance", host)]) }
    }

    func connected(amqp: Bool, database: Bool) {
        gauge("itsm_amqp_connected", [], amqp ? 1 : 0)
        gauge("itsm_database_connected", [], database ? 1 : 0)
    }
}
