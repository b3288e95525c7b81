import Foundation
import ITSMCore
import Synchronization

enum AlertEventClock {
    static func now() -> String { AlertEvent.formatTimestamp(Date()) }
}
