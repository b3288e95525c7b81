import AMQP
import Foundation
import ITSMCore
import ITSMWorker
import ServiceNowSimulator
import Synchronization
import TestSupport

/// Publishes the steady stream and the hostile messages, and remembers what each valid alert
/// should end as.
final class FaultLoad: Sendable {
    static let customers = ["fault-a", "fault-b", "fault-c"]
    static let networks = ["net-1", "net-2"]
    static let templateTitle = "{{#alert}}{{alert.id}}{{/alert}} {{> partial}} {{{alert.title}}} {{=<% %>=}}"

    struct Expected: Sendable {
        let customer: String
        let simulator: Int
        var finalStatus: String?
        var finalStatusEventID: String?
        var template: Bool
    }

    let stack: TestStack
    private let state: Mutex<State>
    private let stopped = Atomic<Bool>(false)

    private struct State {
        var random: SeededRandom
        var alerts: [String: Expected] = [:]
        var hostileAlertIDs: Set<String> = []
        var hostileExpectedDead = 0
        var hostileUnknownCustomer = 0
        var publishFailures = 0
        var published = 0
        var statusEvents = 0
        var duplicates = 0
        var refires = 0
    }

    init(stack: TestStack, seed: UInt64) {
        self.stack = stack
        self.state = Mutex(State(random: SeededRandom(seed: seed)))
    }

    var expected: [String: Expected] { state.withLock { $0.alerts } }
    var hostileAlertIDs: Set<String> { state.withLock { $0.hostileAlertIDs } }
    var hostileExpectedDead: Int { state.withLock { $0.hostileExpectedDead } }
    var publishFailures: Int { state.withLock { $0.publishFailures } }
    var templateAlerts: Int { state.withLock { $0.alerts.values.filter(\.template).count } }
    var summary: String {
        state.withLock {
            "published \($0.published) messages: \($0.alerts.count) alerts, \($0.statusEvents) status events, \($0.duplicates) duplicate deliveries, "
                + "\($0.refires) re-fires, \($0.hostileExpectedDead + $0.hostileUnknownCustomer) hostile (\($0.hostileUnknownCustomer) for unknown customers)"
        }
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// Alerts at a steady rate; half are acknowledged 3 s later, a third resolved 6 s later,
    /// some delivered twice, some re-fired. Runs until `stop()`, then sends what is still due.
    func stream(ratePerSecond: Double) async {
        var due: [(at: ContinuousClock.Instant, action: @Sendable () async -> Void)] = []
        var number = 0
        let interval = Duration.milliseconds(Int(1000 / ratePerSecond))
        var next = ContinuousClock.now
        while !stopped.load(ordering: .relaxed) {
            number += 1
            let alertID = "fault-\(number)"
            let (customerIndex, network, template, twice) = state.withLock { state in
                (Int(state.random.next() % 3), Self.networks[Int(state.random.next() % 2)], number % 50 == 0, state.random.next() % 20 == 0)
            }
            let customer = Self.customers[customerIndex]
            state.withLock { $0.alerts[alertID] = Expected(customer: customer, simulator: customerIndex, template: template) }
            await raise(customer: customer, network: network, alertID: alertID, title: template ? Self.templateTitle : "CPU usage above 95% (\(number))", twice: twice)
            let now = ContinuousClock.now
            // Stamped with when they happen in Ceburu: publishing may lag behind (a broker
            // restart) and two late events must not end up with the same occurred_at.
            let acknowledgedAt = Date().addingTimeInterval(3), resolvedAt = Date().addingTimeInterval(6)
            if number % 2 == 0 {
                due.append((now + .seconds(3), { await self.status("alert.acknowledged", customer: customer, network: network, alertID: alertID, at: acknowledgedAt) }))
            }
            if number % 3 == 0 {
                due.append((now + .seconds(6), { await self.status("alert.resolved", customer: customer, network: network, alertID: alertID, at: resolvedAt) }))
            }
            if number % 2 == 1 && number % 3 != 0 && number % 10 == 1 {
                due.append((now + .seconds(2), { await self.raise(customer: customer, network: network, alertID: alertID, title: "CPU usage above 95% (again)", twice: false, refire: true) }))
            }
            let cutoff = ContinuousClock.now
            let ready = due.filter { $0.at <= cutoff }
            due.removeAll { $0.at <= cutoff }
            for item in ready { await item.action() }
            next += interval
            try? await Task.sleep(until: next, clock: .continuous)
        }
        for item in due.sorted(by: { $0.at < $1.at }) {
            try? await Task.sleep(until: item.at, clock: .continuous)
            await item.action()
        }
    }

    private func raise(customer: String, network: String, alertID: String, title: String, twice: Bool, refire: Bool = false) async {
        let body = Self.body(type: "alert.raised", eventID: UUID().uuidString.lowercased(), customer: customer, network: network,
                             alert: ["id": alertID, "type": "cpu_usage", "severity": "critical", "title": title,
                                     "description": "core-sw-01 CPU at 97.2%", "device": ["id": "dev-9", "name": "core-sw-01"]])
        await publish(body, routingKey: "alert.raised")
        if twice { await publish(body, routingKey: "alert.raised") }
        state.withLock {
            if twice { $0.duplicates += 1 }
            if refire { $0.refires += 1 }
        }
    }

    private func status(_ type: String, customer: String, network: String, alertID: String, at occurredAt: Date) async {
        let eventID = UUID().uuidString.lowercased()
        let body = Self.body(type: type, eventID: eventID, customer: customer, network: network, alert: ["id": alertID, "type": "cpu_usage"],
                             extra: ["actor": ["name": "Dana Ops"], "occurred_at": AlertEvent.formatTimestamp(occurredAt)])
        // Recorded before publishing: the newest by occurred_at is what the ticket must show.
        state.withLock {
            $0.alerts[alertID]?.finalStatus = type == "alert.resolved" ? "resolved" : "acknowledged"
            $0.alerts[alertID]?.finalStatusEventID = eventID
            $0.statusEvents += 1
        }
        await publish(body, routingKey: type)
    }

    static func body(type: String, eventID: String, customer: String, network: String, alert: [String: Any], extra: [String: Any] = [:]) -> Data {
        var object: [String: Any] = ["schema": "ceburu.alert.v1", "event_id": eventID, "type": type, "occurred_at": AlertEventClock.now(),
                                     "customer_id": customer, "network_id": network, "alert": alert]
        object.merge(extra) { _, new in new }
        return try! JSONSerialization.data(withJSONObject: object)
    }

    /// Publishes until the broker confirms (it may be restarting); gives up after two minutes,
    /// many times the 6–7 s a restart takes. (The minutes it once took came from the workers'
    /// spinning relays starving the broker; a budget that hid that would hide it again.)
    func publish(_ body: Data, routingKey: String) async {
        // One id for every attempt: a publish that was not confirmed may still have arrived.
        var properties = AMQPProperties(contentType: "application/json")
        properties.messageID = UUID().uuidString
        let confirmed = await eventually(120, poll: .milliseconds(250)) {
            (try? await stack.publisher.publish(body, exchange: stack.configuration.alertsExchange, routingKey: routingKey,
                                                properties: properties, mandatory: true)) == .confirmed
        }
        state.withLock { if confirmed { $0.published += 1 } else { $0.publishFailures += 1 } }
    }

    /// More than a thousand messages no worker may act on, and a few it must treat as plain data.
    func publishHostile(count: Int, round: Int) async {
        for index in 0..<count {
            let (body, routingKey, deadLetter, alertID) = state.withLock { state in
                HostileMessage.make(index: index, round: round, random: &state.random)
            }
            await publish(body, routingKey: routingKey)
            state.withLock {
                if deadLetter { $0.hostileExpectedDead += 1 } else { $0.hostileUnknownCustomer += 1 }
                if let alertID { $0.hostileAlertIDs.insert(alertID) }
            }
        }
    }

    /// Every valid alert has its `ticket.created`, and every final status its `ticket.updated`.
    func expectationsMet() async -> Bool {
        let events = stack.events.all
        var created = Set<String>()
        var updated = Set<String>()
        for event in events {
            guard let alertID = event["alert_id"] as? String else { continue }
            switch event["type"] as? String {
            case "ticket.created": created.insert(alertID)
            case "ticket.updated": if let cause = event["cause_event_id"] as? String { updated.insert(cause) }
            default: break
            }
        }
        return expected.allSatisfy { alertID, alert in
            created.contains(alertID) && (alert.finalStatusEventID.map(updated.contains) ?? true)
        }
    }
}
