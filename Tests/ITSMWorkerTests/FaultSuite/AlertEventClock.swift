import Foundation
import ITSMCore

enum AlertEventClock {
    static func now() -> String { AlertEvent.formatTimestamp(Date()) }
}
