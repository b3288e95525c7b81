import Foundation
import Mustache

/// The values a template sees.
enum TemplateContext {
    static func make(_ event: AlertEvent) -> [String: Any] {
        var alert: [String: Any] = ["id": event.alert.id, "type": event.alert.type, "labels": event.alert.labels]
        alert["severity"] = event.alert.severity?.rawValue
        alert["title"] = event.alert.title
        alert["description"] = event.alert.description
        alert["url"] = event.alert.url
        alert["value"] = event.alert.value.map(format)
        alert["threshold"] = event.alert.threshold.map(format)
        if let device = event.alert.device {
            var values: [String: Any] = [:]
            values["id"] = device.id
            values["name"] = device.name
            values["ip"] = device.ip
            alert["device"] = values
        }
        return ["alert": alert, "customer_id": event.customerID, "network_id": event.networkID, "event_id": event.eventID,
                "occurred_at": AlertEvent.formatTimestamp(event.occurredAt)]
    }

    /// The text of one variable, for lookups.
    static func value(of path: String, in event: AlertEvent) -> String? {
        switch path {
        case "alert.id": return event.alert.id
        case "alert.type": return event.alert.type
        case "alert.severity": return event.alert.severity?.rawValue
        case "alert.title": return event.alert.title
        case "alert.description": return event.alert.description
        case "alert.device.id": return event.alert.device?.id
        case "alert.device.name": return event.alert.device?.name
        case "alert.device.ip": return event.alert.device?.ip
        case "alert.value": return event.alert.value.map(format)
        case "alert.threshold": return event.alert.threshold.map(format)
        case "alert.url": return event.alert.url
        case "customer_id": return event.customerID
        case "network_id": return event.networkID
        case "event_id": return event.eventID
        case "occurred_at": return AlertEvent.formatTimestamp(event.occurredAt)
        default:
            if path.hasPrefix("alert.labels.") { return event.alert.labels[String(path.dropFirst("alert.labels.".count))] }
            return nil
        }
    }

    /// 95 rather than 95.0; 97.2 as it is.
    static func format(_ number: Double) -> String {
        if number.rounded() == number && abs(number) < 1e15 { return String(Int64(number)) }
        return String(number)
    }
}
