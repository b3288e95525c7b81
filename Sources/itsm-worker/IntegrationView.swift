import ArgumentParser
import Foundation
import ITSMCore
import JSONText
import ITSMPostgres
import ITSMWorker
import ServiceNow

/// An integration as shown to people and programs: never the secret.
struct IntegrationView: Encodable {
    let customer_id: String
    let instance_url: String
    let client_id: String
    let client_secret = "********"
    let secret_key_id: String
    let settings: IntegrationSettings
    let last_test: JSONValue?
    let last_tested_at: Date?

    init(_ integration: StoredIntegration) {
        customer_id = integration.customerID
        instance_url = integration.instanceURL
        client_id = integration.clientID
        secret_key_id = integration.sealedSecret.keyID
        settings = integration.settings
        last_test = integration.lastTest
        last_tested_at = integration.lastTestedAt
    }

    var lastTestSummary: String {
        guard case .object(let test)? = last_test, case .string(let status)? = test["status"] else { return "never" }
        return "\(status) at \(last_tested_at.map(AlertEvent.formatTimestamp) ?? "?")"
    }
}

/// Reads a client secret from a file, standard input (`-`) or an environment variable.
func readSecret(file: String?, environmentVariable: String?) throws -> String {
    let raw: String
    switch (file, environmentVariable) {
    case (let file?, nil):
        if file == "-" {
            raw = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: file) else { throw fail("--client-secret-file: cannot read \(file)") }
            raw = String(decoding: data, as: UTF8.self)
        }
    case (nil, let name?):
        guard let value = ProcessInfo.processInfo.environment[name] else { throw fail("--client-secret-env: \(name) is not set") }
        raw = value
    default:
        throw fail("give the client secret with exactly one of --client-secret-file F (or -) and --client-secret-env VAR")
    }
    let secret = raw.trimmingCharacters(in: .newlines)
    guard !secret.isEmpty else { throw fail("the client secret is empty") }
    return secret
}
