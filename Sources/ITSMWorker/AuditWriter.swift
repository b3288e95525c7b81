import Foundation
import ITSMPostgres
import Logging
import ServiceLifecycle

/// Flushes the audit trail every second; hourly, prunes it and the event history (processed
/// event ids, published outbox rows) past their retentions.
struct AuditWriter: Service {
    let trail: AuditTrail
    let tickets: TicketStore
    let eventRetention: Duration

    func run() async throws {
        var lastPrune = ContinuousClock.now - .seconds(3600)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                try await trail.flush()
                if ContinuousClock.now - lastPrune >= .seconds(3600) {
                    let pruned = try await trail.prune()
                    let history = try await tickets.pruneHistory(olderThan: eventRetention)
                    lastPrune = .now
                    if pruned > 0 { trail.logger.info("audit rows past retention pruned", metadata: ["rows": "\(pruned)"]) }
                    if history > 0 { trail.logger.info("event history past retention pruned", metadata: ["rows": "\(history)"]) }
                }
            } catch {
                trail.logger.debug("audit flush failed; will retry", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
        }
        _ = try? await trail.flush()
    }
}
