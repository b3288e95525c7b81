import Foundation
import ITSMCore
import JSONText

/// `integration.tested` on the events exchange.
public struct IntegrationTestedEvent: Sendable, Codable {
    public var schema = "itsm.integration.v1"
    public var eventID = UUID().uuidString.lowercased()
    public var type = "integration.tested"
    public var occurredAt = AlertEvent.formatTimestamp(Date())
    public var customerID: String
    public var result: JSONValue

    enum CodingKeys: String, CodingKey {
        case schema, type, result
        case eventID = "event_id"
        case occurredAt = "occurred_at"
        case customerID = "customer_id"
    }

    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }
}
