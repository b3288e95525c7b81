import AMQP
import Foundation
import ITSMAMQP
import ITSMWorker
import Postgres
import ServiceNowSimulator

struct FaultChecker {
    let stack: TestStack
    let load: FaultLoad

    /// Messages ready in the work and retry queues.
    static func queuedMessages(_ stack: TestStack) async -> Int {
        var total = 0
        for queue in workAndRetryQueues(stack) { total += (try? await stack.publisher.inspectQueue(queue).messageCount) ?? 0 }
        return total
    }

    static func workAndRetryQueues(_ stack: TestStack) -> [String] {
        let topology = stack.topology
        return [topology.alertsQueue, topology.statusQueue, topology.commandsQueue] + topology.retryTTLs.map(topology.retryQueue(ttl:))
    }

    /// How the simulated instances answered, by HTTP status, over the whole run.
    static func serviceNowAnswers(_ stack: TestStack) async -> [Int: Int] {
        var counts: [Int: Int] = [:]
        for simulator in stack.simulators {
            for request in await simulator.store.requests() { counts[request.status, default: 0] += 1 }
        }
        return counts
    }

    func check() async throws -> FaultReport {
        // The suite restarted PostgreSQL under the test's own pool too: the first query on a
        // connection from before the restart fails, as it would for a worker.
        for attempt in 1...5 {
            do {
                _ = try await stack.pool.query("SELECT 1")
                break
            } catch let error as PostgresError where error.isRetryable && attempt < 5 {}
        }
        var report = FaultReport()
        let expected = load.expected
        report.validAlerts = expected.count

        // ServiceNow: one incident per alert, in the state of its newest status.
        var incidentsBySysID: [String: [String: String]] = [:]
        var byCorrelation: [String: Int] = [:]
        for index in stack.simulators.indices {
            for incident in await stack.incidents(simulator: index) {
                incidentsBySysID[incident["sys_id"] ?? ""] = incident
                byCorrelation[incident["correlation_id"] ?? "", default: 0] += 1
            }
        }
        for (correlation, count) in byCorrelation where count > 1 {
            report.duplicateIncidents += count - 1
            report.sample("\(count) incidents with correlation_id \(correlation)")
        }
        let links = try await stack.pool.query("""
            SELECT alert_id, status, sys_id, correlation_id, (claimed_by IS NOT NULL AND claim_expires_at > now()) AS claimed FROM ticket_links
            """)
        var linkByAlert: [String: (status: String, sysID: String?)] = [:]
        var validCorrelations = Set<String>()
        for row in links {
            let alertID = try row["alert_id"].string()
            let status = try row["status"].string()
            linkByAlert[alertID] = (status, try row["sys_id"].optionalString())
            if expected[alertID] != nil { validCorrelations.insert(try row["correlation_id"].string()) }
            let claimed = try row["claimed"].bool()
            if status == "pending" || claimed {
                report.pendingClaims += 1
                report.sample("ticket for \(alertID) is \(status) and still claimed")
            }
        }
        for (correlation, _) in byCorrelation where !validCorrelations.contains(correlation) {
            report.unexpectedIncidents += 1
            report.sample("an incident with correlation_id \(correlation) belongs to no valid alert")
        }

        let events = stack.events.all
        var eventCounts: [String: Int] = [:]
        var created = Set<String>()
        var updatedCauses = Set<String>()
        for event in events {
            guard let eventID = event["event_id"] as? String, let alertID = event["alert_id"] as? String else { continue }
            eventCounts[eventID, default: 0] += 1
            guard eventCounts[eventID] == 1 else { continue }
            switch event["type"] as? String {
            case "ticket.created":
                report.createdEvents += 1
                created.insert(alertID)
            case "ticket.updated":
                report.updatedEvents += 1
                if let cause = event["cause_event_id"] as? String { updatedCauses.insert(cause) }
            case "ticket.failed":
                if expected[alertID] != nil {
                    report.failedEventsForValidAlerts += 1
                    report.sample("ticket.failed for \(alertID): \(event["error"] ?? "")")
                }
            default: break
            }
        }
        report.repeatedEvents = eventCounts.values.filter { $0 > 1 }.count

        for (alertID, alert) in expected.sorted(by: { $0.key < $1.key }) {
            guard let link = linkByAlert[alertID], let sysID = link.sysID, let incident = incidentsBySysID[sysID] else {
                report.alertsWithoutIncident += 1
                report.sample("\(alertID) (\(alert.customer)) has no incident: link \(String(describing: linkByAlert[alertID]))")
                continue
            }
            if !created.contains(alertID) {
                report.missingEvents += 1
                report.sample("no ticket.created for \(alertID)")
            }
            if alert.template {
                if incident["short_description"]?.hasPrefix(FaultLoad.templateTitle) == true { report.templateTextKept += 1 } else {
                    report.sample("template-like title of \(alertID) became '\(incident["short_description"] ?? "")'")
                }
            }
            guard let status = alert.finalStatus, let statusEventID = alert.finalStatusEventID else { continue }
            report.statusesExpected += 1
            let wanted = status == "resolved" ? "6" : "2"
            if incident["state"] != wanted {
                report.statusesNotApplied += 1
                report.sample("\(alertID) should be \(status) (state \(wanted)) but its incident has state \(incident["state"] ?? "none")")
            }
            if !updatedCauses.contains(statusEventID) {
                report.missingEvents += 1
                report.sample("no ticket.updated for \(alertID)'s \(status) event")
            }
        }

        // Broker: nothing left behind in work or retry queues; dead letters only for hostile input.
        for queue in Self.workAndRetryQueues(stack) {
            let count = try await stack.publisher.inspectQueue(queue).messageCount
            guard count > 0 else { continue }
            report.stuckMessages += count
            for message in try await stack.drain(queue: queue, expecting: count, within: 5) {
                let body = (try? JSONSerialization.jsonObject(with: Data(message.body))) as? [String: Any]
                let alertID = (body?["alert"] as? [String: Any])?["id"] as? String ?? "?"
                report.sample("left in \(queue): \(message.routingKey) for \(alertID), attempt \(message.properties.headers["itsm-attempt"]?.intValue ?? 1), "
                              + "last error: \(message.properties.headers["x-last-error"]?.stringValue ?? "none")")
            }
        }
        let hostileIDs = load.hostileAlertIDs
        let dead = try await stack.drainDeadLetters(expecting: load.hostileExpectedDead, within: 30)
        var seen = Set<String>()
        for delivery in dead {
            // At-least-once: a message whose ack was lost (broker restart, kill -9) is
            // dead-lettered again on redelivery.
            if let id = delivery.properties.messageID, !seen.insert(id).inserted {
                report.repeatedDeadLetters += 1
                continue
            }
            let code = delivery.properties.headers["x-error-code"]?.stringValue ?? "none"
            report.deadLetterCodes[code, default: 0] += 1
            let alertID = (try? JSONSerialization.jsonObject(with: Data(delivery.body)) as? [String: Any])
                .flatMap { $0["alert"] as? [String: Any] }?["id"] as? String
            if let alertID, expected[alertID] != nil {
                report.validAlertsDeadLettered += 1
                report.sample("valid alert \(alertID) dead-lettered: \(code)")
            } else if alertID == nil || hostileIDs.contains(alertID!) || alertID!.count > 1000 {
                report.hostileDeadLettered += 1
            }
        }

        let outbox = try await stack.pool.query("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        report.unpublishedOutbox = try outbox[0]["count"].int()
        return report
    }
}
