import ITSMCore
import Logging
import ServiceLifecycle

/// Runs ``IncidentSync`` every `ITSM_SYNC_INTERVAL`.
public struct SyncService: Service {
    let sync: IncidentSync
    let interval: Duration
    let outbox: OutboxSignal
    let logger: Logger

    public func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let reports = await cancelWhenGracefulShutdown { await sync.syncAll() }
            let changes = reports.reduce(0) { $0 + $1.changes + $1.deleted + $1.comments }
            if changes > 0 { outbox.notify() }
            for report in reports where report.outcome == "failed" {
                logger.warning("sync failed", metadata: ["customer_id": "\(report.customerID)", "error": "\(report.error ?? "")"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
