import Foundation
import NIOFoundationCompat
import HTTPTypes
import Hummingbird

/// The simulator's own API, for processes that cannot reach ``SimulatorStore`` directly (the
/// fault suite, benchmarks, a person trying things with curl):
///
/// - `POST /sim/faults` `{"fault":"status","status":429,"retry_after":2,"count":3,"scope":"api"}`;
///   `fault` is `status`, `hibernating`, `accepted`, `slow` (`delay_ms`), `drop`, `hang`,
///   `answer` (any `status`, `headers` object and `body` string: a hostile instance),
///   `large_body` (`bytes`, default 50 MB) or `endless_body` (trickles forever);
///   `count` -1 means until cleared; `DELETE /sim/faults` clears them.
/// - `POST /sim/revoke-tokens`
/// - `PATCH /sim/incidents/{sys_id}` with fields: an operator's change in the UI.
/// - `GET /sim/incidents`: every incident with its journal.
/// - `GET /sim/requests`: received requests (never the Authorization value).
/// - `GET /sim/stats`: request count and peak concurrency.
/// - `POST /sim/config` `{"latency_ms":200,"rejected_assignment_groups":["X"],"denied_operations":["incident.create"],
///   "clients":[{"client_id":…,"client_secret":…,"active":true,"grant_enabled":true}]}`
/// - `POST /sim/reset`
extension SimulatorResponder {
    func control(_ request: Request, path: String, context: Context) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: 1024 * 1024)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
        switch (request.method, path) {
        case (.post, "/sim/faults"):
            guard let fault = Self.fault(object) else { return Self.json(400, #"{"error":"unknown fault"}"#) }
            let scope = SimulatorFaultScope(rawValue: object["scope"] as? String ?? "api") ?? .api
            await store.inject(fault, count: object["count"] as? Int ?? 1, scope: scope)
            return Self.json(200, #"{"ok":true}"#)
        case (.delete, "/sim/faults"):
            await store.clearFaults()
            return Self.json(200, #"{"ok":true}"#)
        case (.post, "/sim/revoke-tokens"):
            await store.revokeTokens()
            return Self.json(200, #"{"ok":true}"#)
        case (.post, "/sim/reset"):
            await store.reset()
            return Self.json(200, #"{"ok":true}"#)
        case (.get, "/sim/stats"):
            let requests = await store.requests()
            let peak = await store.peakConcurrency()
            let incidents = await store.records("incident").count
            return Self.json(200, #"{"requests":\#(requests.count),"peak_concurrency":\#(peak),"incidents":\#(incidents)}"#)
        case (.get, "/sim/requests"):
            let requests = await store.requests().map { r -> [String: Any] in
                ["method": r.method, "path": r.path, "query": r.query, "status": r.status, "authorization": r.hadAuthorization ? "hidden" : "none"]
            }
            return Self.json(200, String(decoding: try JSONSerialization.data(withJSONObject: requests), as: UTF8.self))
        case (.get, "/sim/incidents"):
            var incidents: [[String: Any]] = []
            for record in await store.records("incident") {
                var entry: [String: Any] = record
                entry["journal"] = await store.journal(sysID: record["sys_id"] ?? "")
                incidents.append(entry)
            }
            return Self.json(200, String(decoding: try JSONSerialization.data(withJSONObject: incidents, options: [.sortedKeys]), as: UTF8.self))
        case (.post, "/sim/config"):
            await store.configure { configuration in
                if let latency = object["latency_ms"] as? Int { configuration.baseLatency = .milliseconds(latency) }
                if let groups = object["rejected_assignment_groups"] as? [String] { configuration.rejectedAssignmentGroups = Set(groups) }
                if let denied = object["denied_operations"] as? [String] { configuration.deniedOperations = Set(denied) }
                if let lifetime = object["token_lifetime_s"] as? Int { configuration.tokenLifetime = .seconds(lifetime) }
                if let clients = object["clients"] as? [[String: Any]] {
                    configuration.clients = clients.compactMap { c in
                        guard let id = c["client_id"] as? String, let secret = c["client_secret"] as? String else { return nil }
                        return SimulatedClient(clientID: id, clientSecret: secret, active: c["active"] as? Bool ?? true,
                                               grantEnabled: c["grant_enabled"] as? Bool ?? true,
                                               applicationUser: c["application_user"] as? String ?? "itsm.integration")
                    }
                }
            }
            return Self.json(200, #"{"ok":true}"#)
        default:
            if request.method == .patch, path.hasPrefix("/sim/incidents/") {
                let sysID = String(path.dropFirst("/sim/incidents/".count))
                let fields = object.reduce(into: [String: String]()) { $0[$1.key] = "\($1.value)" }
                do {
                    let record = try await store.operatorUpdate(sysID: sysID, fields: fields)
                    return Self.json(200, String(decoding: try JSONSerialization.data(withJSONObject: record), as: UTF8.self))
                } catch let rejection as SimulatorStore.SimulatorRejection {
                    return Self.json(rejection.status, Self.errorBody(rejection.message, rejection.detail))
                }
            }
            return Self.json(404, #"{"error":"no such simulator control"}"#)
        }
    }

    static func fault(_ object: [String: Any]) -> SimulatorFault? {
        switch object["fault"] as? String {
        case "status": return .status(object["status"] as? Int ?? 500, retryAfterSeconds: object["retry_after"] as? Int)
        case "hibernating": return .hibernating
        case "accepted": return .accepted
        case "slow": return .slow(.milliseconds(object["delay_ms"] as? Int ?? 1000))
        case "drop": return .dropConnection
        case "hang": return .hang
        case "redirect": return .redirect
        case "answer":
            let headers = (object["headers"] as? [String: Any] ?? [:]).mapValues { "\($0)" }
            return .answer(status: object["status"] as? Int ?? 200, headers: headers, body: object["body"] as? String ?? "")
        case "large_body": return .largeBody(bytes: object["bytes"] as? Int ?? 50 * 1024 * 1024)
        case "endless_body": return .endlessBody
        default: return nil
        }
    }
}
