import Foundation
import ITSMCore
import JSONText
import Testing

@Suite struct AlertMappingTests {
    static let event = AlertEvent(
        eventID: "e1", kind: .raised, occurredAt: Date(timeIntervalSince1970: 1_795_000_000), customerID: "cust-42", networkID: "net-7",
        alert: AlertEvent.Alert(id: "trg-1", type: "cpu_usage", severity: .major, title: "CPU > 95% & <rising>",
                                description: "{{alert.id}} is data, not a template", device: AlertEvent.Device(name: "core-sw-01"),
                                value: 97.2, threshold: 95, labels: ["site": "fra1"]))

    func parse(_ json: String) throws(MappingError) -> AlertMapping {
        try AlertMapping.parse(fieldsJSON: Data(json.utf8))
    }

    @Test func rendersPlainTextLookupsAndLeavesEmptyFieldsOut() throws {
        let mapping = try parse(#"""
            {"short_description": "{{alert.title}} on {{alert.device.name}} ({{alert.labels.site}})",
             "description": "{{alert.description}}", "u_value": "{{alert.value}} / {{alert.threshold}}",
             "impact": {"from": "alert.severity", "map": {"critical": "1", "major": "2"}, "default": "3"},
             "urgency": {"from": "alert.labels.missing", "map": {"x": "1"}, "default": "3"},
             "u_ip": "{{alert.device.ip}}"}
            """#)
        let payload = mapping.render(Self.event)
        #expect(payload["short_description"] == "CPU > 95% & <rising> on core-sw-01 (fra1)")
        #expect(payload["description"] == "{{alert.id}} is data, not a template")
        #expect(payload["u_value"] == "97.2 / 95")
        #expect(payload["impact"] == "2")
        #expect(payload["urgency"] == "3")
        #expect(payload["u_ip"] == nil)
        // The second render goes through the parsed-template cache and gives the same result.
        #expect(mapping.render(Self.event) == payload)
    }

    /// A field is left out when its value is blank by Foundation's `.whitespacesAndNewlines`
    /// (which the render no longer calls): the same answer for every scalar of the Basic Multilingual Plane.
    @Test func leavesOutWhatFoundationCallsBlank() throws {
        let mapping = try parse(#"{"short_description": "{{alert.title}}", "description": "{{alert.title}}{{alert.title}}x"}"#)
        for value in 0..<0x10000 {
            guard let scalar = Unicode.Scalar(value) else { continue }
            let title = String(String.UnicodeScalarView([scalar, scalar]))
            var event = Self.event
            event.alert.title = title
            let payload = mapping.render(event)
            let blank = title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
            #expect((payload["short_description"] == nil) == blank, "U+\(String(value, radix: 16))")
            #expect(payload["description"] != nil)
        }
    }

    @Test(arguments: [
        (#"{"short_description": "{{alert.nope}}"}"#, "short_description"),
        (#"{"Short-Description": "x"}"#, "Short-Description"),
        (#"{"correlation_id": "x"}"#, "correlation_id"),
        (#"{"sys_updated_by": "x"}"#, "sys_updated_by"),
        (#"{"impact": {"from": "alert.severity", "map": {}}}"#, "impact"),
        (#"{"impact": {"from": "alert.colour", "map": {"a": "1"}}}"#, "impact"),
        (#"{"description": "{{> partial}}"}"#, "description"),
        (#"{"description": "{{#alert.title}}unclosed"}"#, "description"),
    ])
    func refusesWhatCannotWork(_ json: String, _ field: String) {
        do {
            _ = try parse(json)
            Issue.record("\(json) was accepted")
        } catch {
            #expect(error.field == field, "\(error)")
        }
    }

    @Test func refusesFilesThatAreNotMappings() {
        #expect(throws: MappingError.self) { try parse("[]") }
        #expect(throws: MappingError.self) { try parse("{}") }
        #expect(throws: MappingError.self) { try AlertMapping.parse(table: "inci dent", fieldsJSON: Data(#"{"a": "b"}"#.utf8)) }
    }

    @Test func decodingRefusesWrongTypesThatJSONWouldCoerce() {
        let body = #"{"schema":"ceburu.alert.v1","event_id":"e","type":"alert.raised","occurred_at":"2026-11-29T03:00:00Z","customer_id":"c","network_id":"n","alert":{"id":"a","type":"t","severity":"critical","title":"t","value":true}}"#
        do {
            _ = try AlertEvent.decode(Array(body.utf8))
            Issue.record("a boolean value was accepted as a number")
        } catch {
            #expect(error.code == "wrong_type")
        }
    }

    @Test func jsonValuesKeepTheirExactTypes() throws {
        let body = #"{"s":"1","n":1,"f":2.5,"t":true,"z":false,"nil":null,"a":[1,"1",true,null,{"k":"v"}],"o":{"inner":{"x":[]}}}"#
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(body.utf8))
        let expected: JSONValue = .object([
            "s": .string("1"), "n": .number(1), "f": .number(2.5), "t": .bool(true), "z": .bool(false), "nil": .null,
            "a": .array([.number(1), .string("1"), .bool(true), .null, .object(["k": .string("v")])]),
            "o": .object(["inner": .object(["x": .array([])])]),
        ])
        #expect(value == expected)
    }
}

extension AlertMappingTests {
    @Test func aRecordLookupIsParsedCheckedAndLeftToTheInstance() throws {
        let mapping = try parse(#"""
            {"short_description": "x",
             "cmdb_ci": {"lookup": "cmdb_ci", "by": ["name", "ip_address"], "from": ["alert.device.name", "alert.device.ip"]}}
            """#)
        #expect(mapping.fields["cmdb_ci"] == .recordLookup(RecordLookup(table: "cmdb_ci", by: ["name", "ip_address"], from: ["alert.device.name", "alert.device.ip"])))
        // Not rendered: the instance binds it when the payload is prepared.
        #expect(mapping.render(Self.event)["cmdb_ci"] == nil)
        // The alert has no IP: only the name is tried.
        #expect(mapping.recordLookups(Self.event)["cmdb_ci"] == RecordLookup.Request(table: "cmdb_ci", pairs: [.init(column: "name", value: "core-sw-01")]))
        // It survives the stored form.
        let stored = try JSONEncoder().encode(mapping.fields)
        #expect(try JSONDecoder().decode([String: FieldRule].self, from: stored) == mapping.fields)

        var hostile = Self.event
        hostile.alert.device = AlertEvent.Device(name: "sw^ORname=x", ip: "10.0.0.1")
        #expect(mapping.recordLookups(hostile)["cmdb_ci"]?.pairs == [.init(column: "ip_address", value: "10.0.0.1")],
                "a value that would change the query is not used")

        for (json, words) in [
            (#"{"cmdb_ci": {"lookup": "cmdb_ci", "by": ["name"], "from": ["alert.device.name", "alert.device.ip"]}}"#, "as many"),
            (#"{"cmdb_ci": {"lookup": "cmdb_ci", "by": ["name"], "from": ["alert.nope"]}}"#, "not an alert variable"),
            (#"{"cmdb_ci": {"lookup": "cmdb ci", "by": ["name"], "from": ["alert.device.name"]}}"#, "not a table name"),
            (#"{"cmdb_ci": {"lookup": "cmdb_ci", "by": ["Name;"], "from": ["alert.device.name"]}}"#, "not a column name"),
        ] {
            #expect { try parse(json) } throws: { ($0 as? MappingError)?.reason.contains(words) == true }
        }
    }

    @Test func aGroupKeyRendersPerAlertAndIsChecked() throws {
        var mapping = try parse(#"{"short_description": "x"}"#)
        mapping.grouping = AlertGrouping(key: "{{network_id}}:{{alert.type}}")
        #expect(mapping.groupClaim(for: Self.event) == GroupClaim(key: "net-7:cpu_usage", window: .seconds(900), resolve: .last))
        mapping.grouping = AlertGrouping(key: "{{alert.device.ip}}")
        #expect(mapping.groupClaim(for: Self.event) == nil, "an empty key groups nothing")
        mapping.grouping = AlertGrouping(key: "{{alert.nope}}")
        #expect(throws: MappingError.self) { try mapping.validate() }
        mapping.grouping = AlertGrouping(key: "{{alert.type}}", window: .zero)
        #expect(throws: MappingError.self) { try mapping.validate() }
    }
}
