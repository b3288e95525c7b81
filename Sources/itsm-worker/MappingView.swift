import ArgumentParser
import Foundation
import ITSMCore
import ITSMWorker

struct MappingView: Encodable {
    let customer_id: String
    let network_id: String
    let alert_type: String
    let table: String
    let fields: [String: FieldRule]
    let group_key: String?
    let group_window_seconds: Int?
    let group_resolve: String?
}
