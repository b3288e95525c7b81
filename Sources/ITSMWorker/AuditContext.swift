import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// The alert a task is working for; ServiceNow calls made inside are recorded against it.
public struct AuditContext: Sendable {
    public var customerID: String
    public var alertID: String
    public var eventID: String?

    @TaskLocal public static var current: AuditContext?
}
