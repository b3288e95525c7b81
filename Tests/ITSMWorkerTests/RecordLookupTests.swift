import Foundation
import ITSMCore
import ITSMWorker
import ServiceNowSimulator
import Testing

/// A mapping field bound to a configuration item by the alert's device: real broker, database
/// and simulator.
@Suite(.stopsTestStacks, .timeLimit(.minutes(2)))
struct RecordLookupTests {
    static let fields = """
        {"short_description": "{{alert.title}} on {{alert.device.name}}",
         "cmdb_ci": {"lookup": "cmdb_ci", "by": ["name", "ip_address"], "from": ["alert.device.name", "alert.device.ip"]}}
        """

    @Test func theCIIsBoundByNameThenIPAndLeftOutWithAWarningWhenNoneOrSeveralMatch() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1", fields: Self.fields)
        try await stack.startWorker(roles: [.alerts, .outbox])
        let items = await stack.simulator.store.records("cmdb_ci")
        let core = try #require(items.first { $0["name"] == "core-sw-01" }?["sys_id"])
        let edge = try #require(items.first { $0["name"] == "edge-rt-02" }?["sys_id"])

        try await stack.publishRaised(alertID: "by-name", device: ("core-sw-01", "192.0.2.1"))
        try await stack.publishRaised(alertID: "by-ip", device: ("renamed-router", "10.0.0.2"))
        try await stack.publishRaised(alertID: "several", device: ("lab-sw", "192.0.2.9"))
        try await stack.publishRaised(alertID: "none", device: ("unknown", "192.0.2.10"))
        #expect(await stack.eventually { stack.events.ofType("ticket.created").count == 4 })

        func incident(_ alertID: String) async throws -> [String: String] {
            let sysID = try #require(try await stack.link(alertID: alertID)?.sysID)
            return try #require(await stack.simulator.store.record("incident", sysID: sysID))
        }
        #expect(try await incident("by-name")["cmdb_ci"] == core)
        #expect(try await incident("by-ip")["cmdb_ci"] == edge)
        // Two CIs share the name: nothing is bound rather than a guess (the IP is not tried:
        // the name matched).
        #expect(try await incident("several")["cmdb_ci"] == "")
        #expect(try await incident("none")["cmdb_ci"] == "")
        func warnings(_ alertID: String) -> [String] {
            stack.events.forAlert(alertID, type: "ticket.created").first?["warnings"] as? [String] ?? []
        }
        #expect(warnings("by-name") == [])
        #expect(warnings("by-ip") == [])
        #expect(warnings("several") == ["cmdb_ci"])
        #expect(warnings("none") == ["cmdb_ci"])

        // Answers are cached: the same device again costs no lookup.
        await stack.simulator.store.clearRequests()
        try await stack.publishRaised(alertID: "by-name-again", device: ("core-sw-01", "192.0.2.1"))
        #expect(await stack.eventually { stack.events.forAlert("by-name-again", type: "ticket.created").count == 1 })
        #expect(try await incident("by-name-again")["cmdb_ci"] == core)
        #expect(await stack.simulator.store.requests().filter { $0.table == "cmdb_ci" }.isEmpty)
    }
}
