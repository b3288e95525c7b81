import Foundation
import ITSMPostgres
import ITSMWorker
import ServiceNowSimulator
import Testing

/// The operator commands as an operator runs them: the built binary, exit codes and output.
@Suite(.stopsTestStacks, .timeLimit(.minutes(2)))
struct CommandLineTests {
    func run(_ stack: TestStack, _ arguments: [String], input: String? = nil) async throws -> (Int32, String) {
        let command = try WorkerProcess(arguments: arguments, environment: stack.processEnvironment, input: input)
        let status = await command.waitForExit(within: 60) ?? -1
        return (status, command.log)
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
