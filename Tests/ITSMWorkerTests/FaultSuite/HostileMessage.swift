import Foundation
import ITSMCore

/// Hostile bodies: not JSON, truncated, deeply nested, wrong shapes and types, huge, unknown
/// customers, oversized identifiers, control characters.
enum HostileMessage {
    static func make(index: Int, round: Int, random: inout SeededRandom) -> (body: Data, routingKey: String, deadLetter: Bool, alertID: String?) {
        let alertID = "hostile-\(round)-\(index)"
        let valid: [String: Any] = [
            "schema": "ceburu.alert.v1", "event_id": UUID().uuidString.lowercased(), "type": "alert.raised", "occurred_at": AlertEventClock.now(),
            "customer_id": FaultLoad.customers[index % 3], "network_id": "net-1",
            "alert": ["id": alertID, "type": "cpu_usage", "severity": "critical", "title": "hostile \(index)"] as [String: Any],
        ]
        func json(_ object: Any) -> Data { try! JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed]) }
        func changed(_ change: (inout [String: Any]) -> Void) -> Data {
            var copy = valid
            change(&copy)
            return json(copy)
        }
        switch index % 16 {
        case 0:
            let length = Int(random.next() % 400) + 1
            return (Data((0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }), "alert.raised", true, nil)
        case 1:
            let whole = json(valid)
            return (whole.prefix(Int(random.next() % UInt64(whole.count - 1))), "alert.raised", true, alertID)
        case 2:
            // 100,000 levels of nesting: a recursive parser without a depth limit dies here.
            return (Data((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8), "alert.raised", true, nil)
        case 3:
            return ([json([1, 2, 3]), json("alert"), json(42), Data("null".utf8)][Int(random.next() % 4)], "alert.raised", true, nil)
        case 4:
            return (changed { $0["alert"] = "not an object" }, "alert.raised", true, alertID)
        case 5:
            return (changed { $0["occurred_at"] = 1_700_000_000 }, "alert.raised", true, alertID)
        case 6:
            return (changed { $0["customer_id"] = ["nested": true] }, "alert.raised", true, alertID)
        case 7:
            return (changed { $0.removeValue(forKey: "event_id") }, "alert.raised", true, alertID)
        case 8:
            return (changed { $0["schema"] = "ceburu.alert.v0" }, "alert.raised", true, alertID)
        case 9:
            return (changed { $0["type"] = "alert.exploded" }, "alert.raised", true, alertID)
        case 10:
            return (changed { $0["alert"] = ["id": String(repeating: "x", count: 5_000), "type": "cpu_usage", "severity": "critical", "title": "t"] },
                    "alert.raised", true, nil)
        case 11:
            return (changed { $0["occurred_at"] = "yesterday\u{0}" }, "alert.raised", true, alertID)
        case 12:
            // Huge: beyond ITSM_MAX_MESSAGE_BYTES. Few of them, they are big.
            guard index % 160 == 12 else { return (changed { $0["event_id"] = 12345 }, "alert.raised", true, alertID) }
            return (changed { $0["alert"] = ["id": alertID, "type": "cpu_usage", "severity": "critical", "title": String(repeating: "A", count: 600_000)] },
                    "alert.raised", true, alertID)
        case 13:
            return (changed { $0["alert"] = ["id": alertID, "type": "cpu_usage", "severity": 5, "title": "t"] }, "alert.raised", true, alertID)
        case 14:
            return (changed { $0["customer_id"] = "nobody-\(index)" }, "alert.raised", false, alertID)
        default:
            return (changed { $0["network_id"] = "" }, "alert.raised", true, alertID)
        }
    }
}
