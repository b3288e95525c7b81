import Foundation

/// Every check of a Test Connection run, in order; `status` is `failed` if any check failed.
public struct ConnectionTestResult: Sendable, Codable, Equatable {
    public var customerID: String
    public var instanceURL: String
    public var status: String
    public var testedAt: String
    public var checks: [ConnectionCheck]

    public init(customerID: String, instanceURL: String, status: String, testedAt: String, checks: [ConnectionCheck]) {
        self.customerID = customerID
        self.instanceURL = instanceURL
        self.status = status
        self.testedAt = testedAt
        self.checks = checks
    }

    enum CodingKeys: String, CodingKey {
        case status, checks
        case customerID = "customer_id"
        case instanceURL = "instance_url"
        case testedAt = "tested_at"
    }

    public var passed: Bool { status == "ok" }

    public func encoded(pretty: Bool = false) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }

    /// For a person: one line per check.
    public var text: String {
        var lines = ["Test Connection for \(customerID) (\(instanceURL)): \(status.uppercased())"]
        for check in checks {
            var line = "  [\(check.status.rawValue)] \(check.name) (\(check.durationMs) ms)"
            if let cause = check.cause { line += "\n      cause: \(cause)" }
            if let remedy = check.remedy { line += "\n      remedy: \(remedy)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
