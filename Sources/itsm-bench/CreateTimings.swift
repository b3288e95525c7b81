import AMQP
import AsyncHTTPClient
import Foundation
import ITSMCore
import ITSMWorker
import NIOCore
import Postgres
import ServiceNowSimulator

/// The worker's creates as it timed them (from its /metrics): how many, and their total seconds.
struct CreateTimings {
    var count = 0.0
    var seconds = 0.0

    static func scrape(port: Int) async -> CreateTimings? {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        defer { _ = client.shutdown() }
        guard let response = try? await client.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(5)),
              let body = try? await response.body.collect(upTo: 16 << 20) else { return nil }
        var timings = CreateTimings()
        for line in String(buffer: body).split(separator: "\n") where line.hasPrefix("itsm_servicenow_request_seconds_") && line.contains(#"operation="create""#) {
            guard let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            if line.hasPrefix("itsm_servicenow_request_seconds_count") { timings.count += value }
            if line.hasPrefix("itsm_servicenow_request_seconds_sum") { timings.seconds += value }
        }
        return timings
    }

    static func - (after: CreateTimings, before: CreateTimings) -> CreateTimings {
        CreateTimings(count: after.count - before.count, seconds: after.seconds - before.seconds)
    }
}
