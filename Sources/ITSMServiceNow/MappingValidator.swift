import Foundation
import ITSMCore
import ServiceNow

/// Checks a mapping against the instance it will write to, and prepares payloads with what it
/// learns (references resolved, long values truncated).
public struct MappingValidator: Sendable {
    public struct Finding: Sendable, Codable, Equatable {
        public var field: String?
        public var message: String

        public init(field: String?, message: String) {
            self.field = field
            self.message = message
        }
    }

    public struct Report: Sendable, Codable, Equatable {
        public var errors: [Finding] = []
        public var warnings: [Finding] = []
        /// Display names resolved to sys_ids, by field.
        public var references: [String: String] = [:]
        /// The payload the sample alert would produce (a dry run; nothing is created).
        public var samplePayload: [String: String] = [:]
        /// What the mapping's grouping and the worker's storm protection do, in words.
        public var behaviour: [String] = []

        public var valid: Bool { errors.isEmpty }

        public init() {}

        enum CodingKeys: String, CodingKey {
            case errors, warnings, references, behaviour
            case samplePayload = "sample_payload"
        }
    }

    /// Fields ServiceNow's guidance calls advanced: instances often restrict them.
    static let advancedFields: Set<String> = ["assignment_group", "service_offering"]
    static let referenceFields: Set<String> = ["caller_id", "assigned_to", "cmdb_ci", "business_service", "assignment_group", "service_offering"]
    /// Appended to a value cut to the field's max length.
    public static let truncationMarker = " …[truncated]"

    let metadata: InstanceMetadata

    public init(metadata: InstanceMetadata) {
        self.metadata = metadata
    }

    public func validate(_ mapping: AlertMapping, customerID: String, session: ServiceNowSession, sample: AlertEvent) async -> Report {
        var report = Report()
        do {
            try mapping.validate()
        } catch {
            report.errors.append(Finding(field: error.field, message: error.reason))
            return report
        }
        let fields: InstanceMetadata.TableFields
        do {
            fields = try await metadata.tableFields(customerID: customerID, table: mapping.table, session: session)
        } catch {
            report.warnings.append(Finding(field: nil, message: "the instance's metadata could not be read (\(error.description)); only the offline checks were made"))
            report.samplePayload = mapping.render(sample)
            return report
        }
        guard !fields.list.isEmpty else {
            if (try? await session.tableExists(mapping.table)) == false {
                report.errors.append(Finding(field: nil, message: "table '\(mapping.table)' does not exist on the instance"))
            } else {
                report.warnings.append(Finding(field: nil, message: "sys_dictionary returned no fields for \(mapping.table) (not readable?); only the offline checks were made"))
            }
            report.samplePayload = mapping.render(sample)
            return report
        }
        for (name, rule) in mapping.fields.sorted(by: { $0.key < $1.key }) {
            guard let field = fields.byName[name] else {
                report.errors.append(Finding(field: name, message: "\(mapping.table) has no field '\(name)'"))
                continue
            }
            let statics = Self.staticValues(rule)
            if !field.choices.isEmpty {
                let allowed = Set(field.choices.map(\.value))
                for value in statics where !allowed.contains(value) {
                    report.errors.append(Finding(field: name, message: "'\(value)' is not a choice of \(name) (choices: \(field.choices.map(\.value).joined(separator: ", "))); ServiceNow would drop it silently"))
                }
            }
            if let maxLength = field.maxLength, maxLength > 0 {
                if case .template(let text) = rule, text.contains("{{") {
                    report.warnings.append(Finding(field: name, message: "the template's result can exceed \(name)'s max length (\(maxLength)); longer values are truncated with a marker"))
                }
                for value in statics where value.count > maxLength && field.reference == nil {
                    report.errors.append(Finding(field: name, message: "'\(value.prefix(40))…' is longer than \(name)'s max length (\(maxLength))"))
                }
            }
            if let reference = field.reference, Self.referenceFields.contains(name) || field.type == "reference" {
                for value in statics where !InstanceMetadata.isSysID(value) {
                    switch try? await metadata.lookUp(customerID: customerID, table: reference, name: value, session: session) {
                    case .found(let sysID)?: report.references[name] = sysID
                    case .none?: report.errors.append(Finding(field: name, message: "no \(reference) record is named '\(value)'"))
                    case .ambiguous(let count)?: report.errors.append(Finding(field: name, message: "\(count) \(reference) records are named '\(value)'; give the sys_id"))
                    case nil: report.warnings.append(Finding(field: name, message: "could not look '\(value)' up in \(reference)"))
                    }
                }
            }
            if case .recordLookup(let lookup) = rule {
                await checkLookup(lookup, field: name, customerID: customerID, session: session, sample: sample, report: &report)
            }
            if Self.advancedFields.contains(name) {
                report.warnings.append(Finding(field: name, message: "\(name) is an advanced field: instances often restrict it; if ServiceNow rejects it, the incident is created without it and the event carries a warning"))
            }
        }
        report.samplePayload = (try? await prepare(mapping.render(sample), lookups: mapping.recordLookups(sample), table: mapping.table,
                                                   customerID: customerID, session: session).payload) ?? mapping.render(sample)
        return report
    }

    /// What a record lookup binds for the sample alert. (Its columns are not checked against
    /// sys_dictionary: tables like cmdb_ci inherit most of theirs; an unknown column matches
    /// no row, since only rows that carry the value count.)
    private func checkLookup(_ lookup: RecordLookup, field name: String, customerID: String, session: ServiceNowSession, sample: AlertEvent,
                             report: inout Report) async {
        let request = lookup.request(for: sample)
        switch try? await metadata.findRecord(customerID: customerID, request, session: session) {
        case .found(let sysID)?:
            report.references[name] = sysID
        case .none?:
            report.warnings.append(Finding(field: name, message: "no \(lookup.table) record matches the sample alert (\(request.description)); such alerts get no \(name), with a warning"))
        case .ambiguous(let count)?:
            report.warnings.append(Finding(field: name, message: "\(count) \(lookup.table) records match the sample alert (\(request.description)); such alerts get no \(name), with a warning"))
        case nil:
            report.warnings.append(Finding(field: name, message: "could not look the sample alert's record up in \(lookup.table)"))
        }
    }

    /// Prepares a rendered payload for sending: display names of reference fields become sys_ids
    /// (a name that matches no record, or several, is dropped with a warning), and values longer
    /// than their field are truncated with a marker. Without readable metadata the payload goes
    /// as it is.
    public func prepare(_ payload: [String: String], lookups: [String: RecordLookup.Request] = [:], table: String, customerID: String,
                        session: ServiceNowSession) async throws(ServiceNowError) -> (payload: [String: String], warnings: [String]) {
        var (prepared, warnings) = try await prepareValues(payload, table: table, customerID: customerID, session: session)
        for (name, request) in lookups.sorted(by: { $0.key < $1.key }) {
            switch try await metadata.findRecord(customerID: customerID, request, session: session) {
            case .found(let sysID): prepared[name] = sysID
            case .none, .ambiguous: warnings.append(name)
            }
        }
        return (prepared, warnings)
    }

    private func prepareValues(_ payload: [String: String], table: String, customerID: String,
                               session: ServiceNowSession) async throws(ServiceNowError) -> (payload: [String: String], warnings: [String]) {
        let fields: [String: ServiceNowField]
        do {
            fields = try await metadata.tableFields(customerID: customerID, table: table, session: session).byName
        } catch {
            // An instance that is down fails the message now rather than after another timeout;
            // metadata it refuses to show (a least-privilege user) just means no preparation.
            if error.isRetryable { throw error }
            return (payload, [])
        }
        guard !fields.isEmpty else { return (payload, []) }
        var prepared = payload
        var warnings: [String] = []
        for (name, value) in payload {
            guard let field = fields[name] else { continue }
            if let reference = field.reference, !InstanceMetadata.isSysID(value) {
                switch try? await metadata.lookUp(customerID: customerID, table: reference, name: value, session: session) {
                case .found(let sysID)?: prepared[name] = sysID
                case .none?, .ambiguous?: prepared.removeValue(forKey: name); warnings.append(name)
                case nil: break
                }
            } else if let maxLength = field.maxLength, maxLength > Self.truncationMarker.count, value.count > maxLength {
                prepared[name] = String(value.prefix(maxLength - Self.truncationMarker.count)) + Self.truncationMarker
            }
        }
        return (prepared, warnings)
    }

    static func staticValues(_ rule: FieldRule) -> [String] {
        switch rule {
        case .template(let text): return text.contains("{{") ? [] : [text]
        case .lookup(_, let map, let fallback): return Array(Set(map.values)).sorted() + (fallback.map { [$0] } ?? [])
        case .recordLookup: return []
        }
    }

    /// A representative alert for dry runs.
    public static func sampleAlert(customerID: String, networkID: String, alertType: String) -> AlertEvent {
        AlertEvent(eventID: "sample-event", kind: .raised, occurredAt: Date(), customerID: customerID, networkID: networkID,
                   alert: AlertEvent.Alert(id: "sample-alert", type: alertType, severity: .critical, title: "CPU usage above 95%",
                                           description: "core-sw-01 CPU at 97.2% for 5 minutes",
                                           device: AlertEvent.Device(id: "dev-9", name: "core-sw-01", ip: "10.0.0.1"),
                                           value: 97.2, threshold: 95, labels: ["site": "fra1"], url: "https://app.ceburu.example/alerts/sample-alert"))
    }
}
