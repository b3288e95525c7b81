import ITSMCore
import ITSMPostgres
import ServiceNow

extension AuditTrail {
    /// A ServiceNow call, if it was made for an alert.
    public func record(_ request: ServiceNowClient.RequestRecord) {
        let error = request.serviceNowMessage ?? request.error.map { [$0.message, $0.detail].compactMap { $0 }.joined(separator: ": ") }
        recordCall(method: "\(request.method) \(request.operation)", table: request.table, sysID: request.sysID, status: request.status,
                   durationMs: Int(request.duration.milliseconds), message: error)
    }
}
