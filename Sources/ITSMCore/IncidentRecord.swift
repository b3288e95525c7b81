/// A record as the instance answered it: its sys_id and the fields asked for.
public struct IncidentRecord: Sendable, Equatable {
    public var sysID: String
    public var fields: [String: String]

    public init(sysID: String, fields: [String: String]) {
        self.sysID = sysID
        self.fields = fields
    }

    public subscript(_ field: String) -> String? { fields[field] }
}
