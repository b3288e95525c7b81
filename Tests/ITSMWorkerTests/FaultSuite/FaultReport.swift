import Foundation

struct FaultReport {
    var validAlerts = 0
    var alertsWithoutIncident = 0
    var duplicateIncidents = 0
    var unexpectedIncidents = 0
    var statusesExpected = 0
    var statusesNotApplied = 0
    var createdEvents = 0
    var updatedEvents = 0
    var repeatedEvents = 0
    var missingEvents = 0
    var failedEventsForValidAlerts = 0
    var stuckMessages = 0
    var unpublishedOutbox = 0
    var pendingClaims = 0
    var hostileDeadLettered = 0
    var validAlertsDeadLettered = 0
    var deadLetterCodes: [String: Int] = [:]
    var repeatedDeadLetters = 0
    var templateTextKept = 0
    var samples: [String] = []

    mutating func sample(_ text: String) { if samples.count < 20 { samples.append(text) } }

    var table: String {
        let rows: [(String, String)] = [
            ("valid alerts published", "\(validAlerts)"),
            ("alerts without their incident", "\(alertsWithoutIncident)"),
            ("duplicate incidents", "\(duplicateIncidents)"),
            ("incidents for no valid alert", "\(unexpectedIncidents)"),
            ("final statuses expected", "\(statusesExpected)"),
            ("final statuses not applied", "\(statusesNotApplied)"),
            ("ticket.created / ticket.updated events", "\(createdEvents) / \(updatedEvents)"),
            ("events delivered more than once", "\(repeatedEvents)"),
            ("events missing", "\(missingEvents)"),
            ("ticket.failed for valid alerts", "\(failedEventsForValidAlerts)"),
            ("messages left in work and retry queues", "\(stuckMessages)"),
            ("outbox rows unpublished", "\(unpublishedOutbox)"),
            ("tickets still claimed or pending", "\(pendingClaims)"),
            ("valid alerts dead-lettered", "\(validAlertsDeadLettered)"),
            ("hostile messages dead-lettered", "\(hostileDeadLettered)"),
            ("dead letters delivered more than once", "\(repeatedDeadLetters)"),
            ("template-like titles kept as text", "\(templateTextKept)"),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        var text = "fault suite checker\n"
        for (name, value) in rows { text += "  " + name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + value + "\n" }
        text += "  dead letters by x-error-code: " + deadLetterCodes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        return text
    }
}
