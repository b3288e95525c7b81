import Foundation
import ITSMCore
import ITSMPostgres
import ITSMWorker
import ServiceNowSimulator
import Testing

/// The operator commands as an operator runs them: the built binary, exit codes and output.
@Suite(.stopsTestStacks, .timeLimit(.minutes(2)))
struct CommandLineTests {
    func run(_ stack: TestStack, _ arguments: [String], input: String? = nil, environment: [String: String] = [:]) async throws -> (Int32, String) {
        let command = try WorkerProcess(arguments: arguments, environment: stack.processEnvironment.merging(environment) { _, new in new }, input: input)
        let status = await command.waitForExit(within: 60) ?? -1
        return (status, command.log)
    }

    /// The binary runs Swift's tasks on NIO's event loops (`EventLoopExecutor`), and says so at
    /// start from a task it looked at; the alert path works on them end to end.
    @Test func theWorkerRunsItsTasksOnTheEventLoops() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        let worker = try WorkerProcess(arguments: ["run"], environment: stack.processEnvironment)
        defer { worker.signal(SIGKILL) }
        #expect(await stack.eventually(30) { worker.log.contains("worker started") }, "\(worker.log)")
        let started = worker.log.split(separator: "\n").first { $0.contains("worker started") }
        #expect(started?.contains("event-loops") == true, "\(started ?? "no start line")")
        #expect(started?.contains("event_loops=1") == true, "one loop by default: \(started ?? "no start line")")
        try await stack.publishRaised(alertID: "on-the-loops")
        #expect(await stack.eventually(20) { stack.events.forAlert("on-the-loops", type: "ticket.created").count == 1 }, "\(worker.log)")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(within: 30) == 0, "\(worker.log)")
    }

    /// `ITSM_EVENT_LOOPS` sizes the group the tasks run on (NIO reads it once, before first use).
    @Test func theEventLoopCountIsASetting() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1")
        let worker = try WorkerProcess(arguments: ["run"], environment: stack.processEnvironment.merging(["ITSM_EVENT_LOOPS": "3"]) { _, new in new })
        defer { worker.signal(SIGKILL) }
        #expect(await stack.eventually(30) { worker.log.contains("worker started") }, "\(worker.log)")
        let started = worker.log.split(separator: "\n").first { $0.contains("worker started") }
        #expect(started?.contains("event_loops=3") == true, "\(started ?? "no start line")")
        try await stack.publishRaised(alertID: "on-three-loops")
        #expect(await stack.eventually(20) { stack.events.forAlert("on-three-loops", type: "ticket.created").count == 1 }, "\(worker.log)")
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(within: 30) == 0, "\(worker.log)")
    }

    @Test func integrationAndMappingCommands() async throws {
        let stack = try await TestStack.make()
        let url = stack.simulatorURLs[0]
        // The secret from standard input; `show` masks it.
        var (status, output) = try await run(stack, ["integration", "set", "--customer", "cli-1", "--instance-url", url,
                                                      "--client-id", "worker-client", "--client-secret-file", "-"], input: "Sup3r-Secret-Value\n")
        #expect(status == 0, "\(output)")
        (status, output) = try await run(stack, ["integration", "show", "--customer", "cli-1"])
        #expect(status == 0)
        #expect(output.contains("********"))
        #expect(!output.contains("Sup3r-Secret-Value"))
        // A refused URL is one line and exit 1.
        (status, output) = try await run(stack, ["integration", "set", "--customer", "cli-2", "--instance-url", "https://intranet.example.com",
                                                  "--client-id", "x", "--client-secret-env", "PATH"])
        #expect(status == 1)
        #expect(output.contains("--instance-url"))

        (status, output) = try await run(stack, ["integration", "test", "--customer", "cli-1", "--json"])
        #expect(status == 0, "\(output)")
        #expect(output.contains(#""status" : "ok""#))
        await stack.simulator.store.configure { $0.clients = [] }
        (status, output) = try await run(stack, ["integration", "test", "--customer", "cli-1"])
        #expect(status == 1, "a failed check must fail the command")
        #expect(output.contains("[failed] token"))
        await stack.simulator.store.configure { $0.clients = [SimulatedClient(clientID: "worker-client", clientSecret: "Sup3r-Secret-Value")] }

        // mapping set validates against the instance: an unknown field and a bad choice refuse it.
        let bad = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(stack.id).json")
        try #"{"short_description": "{{alert.title}}", "u_nope": "x", "category": "plumbing"}"#.write(to: bad, atomically: true, encoding: .utf8)
        (status, output) = try await run(stack, ["mapping", "set", "--customer", "cli-1", "--network", "n", "--alert-type", "cpu_usage", "--fields", bad.path])
        #expect(status == 1)
        #expect(output.contains("u_nope"))
        #expect(try await ConfigurationStore(pool: stack.pool).mapping(customerID: "cli-1", networkID: "n", alertType: "cpu_usage") == nil)
        let good = FileManager.default.temporaryDirectory.appendingPathComponent("good-\(stack.id).json")
        try TestStack.standardFields.write(to: good, atomically: true, encoding: .utf8)
        (status, output) = try await run(stack, ["mapping", "set", "--customer", "cli-1", "--network", "n", "--alert-type", "cpu_usage", "--fields", good.path])
        #expect(status == 0, "\(output)")
        (status, output) = try await run(stack, ["mapping", "validate", "--customer", "cli-1", "--network", "n", "--alert-type", "cpu_usage"])
        #expect(status == 0)
        #expect(output.contains("short_description: CPU usage above 95% on core-sw-01"))
        #expect(await stack.incidents().isEmpty, "validation created a record")
    }
}

extension CommandLineTests {
    @Test func mappingsWithGroupingAndARecordLookupAreSavedAndExplained() async throws {
        let stack = try await TestStack.make()
        var (status, output) = try await run(stack, ["integration", "set", "--customer", "cli-1", "--instance-url", stack.simulatorURLs[0],
                                                      "--client-id", "worker-client", "--client-secret-file", "-", "--sync-notes", "false"],
                                             input: "Sup3r-Secret-Value\n")
        #expect(status == 0, "\(output)")
        (status, output) = try await run(stack, ["integration", "show", "--customer", "cli-1"])
        #expect(output.contains("notes sync:     off"))
        let fields = FileManager.default.temporaryDirectory.appendingPathComponent("ci-\(stack.id).json")
        try """
            {"short_description": "{{alert.title}}",
             "cmdb_ci": {"lookup": "cmdb_ci", "by": ["name", "ip_address"], "from": ["alert.device.name", "alert.device.ip"]}}
            """.write(to: fields, atomically: true, encoding: .utf8)
        (status, output) = try await run(stack, ["mapping", "set", "--customer", "cli-1", "--network", "n", "--alert-type", "cpu_usage", "--fields", fields.path,
                                                  "--group-key", "{{network_id}}:{{alert.type}}", "--group-window", "10m", "--group-resolve", "first"])
        #expect(status == 0, "\(output)")
        let stored = try #require(try await ConfigurationStore(pool: stack.pool).mapping(customerID: "cli-1", networkID: "n", alertType: "cpu_usage"))
        #expect(stored.mapping.grouping == AlertGrouping(key: "{{network_id}}:{{alert.type}}", window: .seconds(600), resolve: .first))
        (status, output) = try await run(stack, ["mapping", "list", "--customer", "cli-1"])
        #expect(output.contains("grouped by '{{network_id}}:{{alert.type}}' for 10 minutes, resolve: first"), "\(output)")
        #expect(stored.mapping.fields["cmdb_ci"] == .recordLookup(RecordLookup(table: "cmdb_ci", by: ["name", "ip_address"],
                                                                              from: ["alert.device.name", "alert.device.ip"])))

        // (The worker's default storm limit, which the test stack turns off.)
        (status, output) = try await run(stack, ["mapping", "validate", "--customer", "cli-1", "--network", "n", "--alert-type", "cpu_usage"],
                                         environment: ["ITSM_STORM_MAX_NEW_PER_MINUTE": String(try WorkerConfiguration(environment: [:]).storm.maxNewPerMinute)])
        #expect(status == 0, "\(output)")
        let coreSwitch = try #require(await stack.simulator.store.records("cmdb_ci").first { $0["name"] == "core-sw-01" }?["sys_id"])
        #expect(output.contains("reference: cmdb_ci → \(coreSwitch)"), "\(output)")
        #expect(output.contains("cmdb_ci: \(coreSwitch)"), "the sample payload binds the CI")
        #expect(output.contains("for 10 minutes after it opens"))
        #expect(output.contains("resolved when the first of its alerts resolves"))
        #expect(output.contains("the sample alert's key is 'n:cpu_usage'"))
        #expect(output.contains("past 10 new incidents a minute on one network"))

        // Bad grouping options are refused with one line.
        (status, output) = try await run(stack, ["mapping", "set", "--customer", "cli-1", "--network", "n", "--alert-type", "cpu_usage", "--fields", fields.path,
                                                  "--group-key", "{{alert.nope}}", "--no-validate"])
        #expect(status == 1)
        #expect(output.contains("group_key"))
        (status, output) = try await run(stack, ["mapping", "set", "--customer", "cli-1", "--network", "n", "--alert-type", "cpu_usage", "--fields", fields.path,
                                                  "--group-resolve", "last", "--no-validate"])
        #expect(status == 1)
        #expect(output.contains("need --group-key"))
    }
}
