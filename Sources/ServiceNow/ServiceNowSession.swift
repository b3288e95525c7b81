import Foundation
import JSONText
import NIOHTTP1

/// Calls to one instance with one integration's credentials. Obtain from
/// ``ServiceNowClient/session(instance:credentials:)``.
public struct ServiceNowSession: Sendable {
    let client: ServiceNowClient
    public let instance: InstanceURL
    let credentials: ServiceNowCredentials
    /// The proxy this session's calls go through, or nil for direct.
    public let proxy: ServiceNowProxy?

    // MARK: - OAuth client credentials

    /// Why a token request fails, as ServiceNow gives the same answer for all of them.
    public static let tokenFailureCauses = [
        "the client_id or client_secret is wrong, or the OAuth application does not exist",
        "the OAuth application is inactive: activate it",
        "the client-credentials grant is not enabled: set the system property glide.oauth.inbound.client.credential.grant_type.enabled to true and choose client_credentials as the Default Grant Type",
        "the OAuth application has no OAuth Application User",
    ]

    /// The range a token's `expires_in` is held to.
    static let tokenLifetimes: ClosedRange<Duration> = .seconds(1)...(.seconds(86_400))

    /// Asks the token endpoint for a new token, bypassing the cache (Test Connection uses this).
    public func requestToken() async throws(ServiceNowError) -> (accessToken: String, expiresIn: Duration) {
        let token = try await fetchToken()
        return (token.value, token.expiresAt - ContinuousClock.now)
    }

    func fetchToken() async throws(ServiceNowError) -> CachedToken {
        client.countTokenRequest()
        let form = [("grant_type", "client_credentials"), ("client_id", credentials.clientID), ("client_secret", credentials.clientSecret)]
            .map { "\($0.0)=\(ServiceNowClient.formEncode($0.1))" }.joined(separator: "&")
        let response = try await client.send(
            instance: instance, through: proxy, method: .POST, path: "/oauth_token.do",
            headers: [("Content-Type", "application/x-www-form-urlencoded")], body: Data(form.utf8), operation: "token")
        if response.looksLikeHTML {
            throw ServiceNowError(.hibernating, status: response.status, message: "the token endpoint answered with an HTML page (a hibernating or unavailable instance?)")
        }
        struct TokenAnswer: Decodable {
            let access_token: String?
            let expires_in: LenientNumber?
            let error: String?
            let error_description: String?
        }
        let answer = try? JSONDecoder().decode(TokenAnswer.self, from: response.body)
        guard response.status == 200 else {
            switch response.status {
            case 401, 400, 403:
                throw ServiceNowError(.tokenRejected, status: response.status, message: answer?.error ?? "token request refused",
                                      detail: answer?.error_description, likelyCauses: Self.tokenFailureCauses)
            case 429:
                throw ServiceNowError(.rateLimited, status: 429, message: answer?.error, retryAfter: ServiceNowClient.retryDelay(response.headers) ?? ServiceNowClient.defaultRetryDelay)
            case 500...599:
                throw ServiceNowError(.serverError, status: response.status, message: answer?.error ?? "token endpoint failed", detail: answer?.error_description)
            default:
                throw ServiceNowError(.unexpectedStatus, status: response.status, message: answer?.error, detail: answer?.error_description)
            }
        }
        guard let answer, let token = answer.access_token, !token.isEmpty else {
            throw ServiceNowError(.invalidResponse, status: 200, message: "the token endpoint's answer has no access_token")
        }
        // Lifetime is set per OAuth application: use expires_in, refresh a little early. An
        // absurd lifetime is bounded: a day at most (a revoked token still draws a 401 and a
        // refresh), a second at least (a token per request is slow, not wrong).
        let lifetime = answer.expires_in?.value.flatMap { UntrustedNumber.seconds($0, within: Self.tokenLifetimes) } ?? .seconds(1799)
        let margin = min(Duration.seconds(60), lifetime / 10)
        let now = ContinuousClock.now
        return CachedToken(value: token, expiresAt: now + lifetime, refreshAt: now + lifetime - margin)
    }

    /// Checks that the instance answers like ServiceNow (an unauthenticated API call drawing a
    /// JSON 401), without credentials. Throws for an HTML page, TLS or connection failures.
    public func probe() async throws(ServiceNowError) {
        let response = try await client.send(instance: instance, through: proxy, method: .GET, path: "/api/now/table/incident",
                                             query: [("sysparm_limit", "1")], operation: "probe")
        if response.looksLikeHTML {
            throw ServiceNowError(.hibernating, status: response.status, message: "the instance answered with an HTML page")
        }
        if response.status >= 500 {
            throw ServiceNowError(.serverError, status: response.status, message: Self.errorEnvelope(response.body).message)
        }
    }

    // MARK: - Authorized API calls

    /// An API call with the cached token; on a 401 the token is dropped, refreshed once and the
    /// call retried once.
    func api(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil,
        operation: String, table: String? = nil, sysID: String? = nil
    ) async throws(ServiceNowError) -> ServiceNowClient.Response {
        let cache = client.tokenCache(for: instance, credentials: credentials)
        let session = self
        var headers = [("Content-Type", "application/json")]
        var token = try await cache.token { () throws(ServiceNowError) in try await session.fetchToken() }
        var response = try await client.send(instance: instance, through: proxy, method: method, path: path, query: query,
                                             headers: headers + [("Authorization", "Bearer \(token.value)")], body: body,
                                             operation: operation, table: table, sysID: sysID)
        if response.status == 401 {
            cache.invalidate(token.value)
            token = try await cache.token { () throws(ServiceNowError) in try await session.fetchToken() }
            headers.append(("Authorization", "Bearer \(token.value)"))
            response = try await client.send(instance: instance, through: proxy, method: method, path: path, query: query, headers: headers, body: body,
                                             operation: operation, table: table, sysID: sysID)
            if response.status == 401 {
                let envelope = Self.errorEnvelope(response.body)
                throw ServiceNowError(.unauthorized, status: 401, message: envelope.message ?? "User Not Authenticated",
                                      detail: envelope.detail, likelyCauses: ["the token was refused right after it was issued: check the OAuth Application User's roles"])
            }
        }
        try Self.check(response)
        return response
    }

    /// Turns anything but a processed JSON answer into a typed error.
    static func check(_ response: ServiceNowClient.Response) throws(ServiceNowError) {
        if response.looksLikeHTML {
            throw ServiceNowError(.hibernating, status: response.status,
                                  message: "the instance answered with an HTML page instead of JSON (hibernating, upgrading or busy)")
        }
        if response.status == 202 {
            throw ServiceNowError(.notProcessed, status: 202, message: "the instance accepted the request without processing it (202)")
        }
        if (200...299).contains(response.status) { return }
        let envelope = errorEnvelope(response.body)
        let kind: ServiceNowError.Kind
        switch response.status {
        case 400: kind = .badRequest
        case 401: kind = .unauthorized
        case 403: kind = .forbidden
        case 404: kind = .notFound
        case 429: kind = .rateLimited
        case 500...599: kind = .serverError
        default: kind = .unexpectedStatus
        }
        throw ServiceNowError(kind, status: response.status, message: envelope.message, detail: envelope.detail,
                              retryAfter: kind == .rateLimited ? ServiceNowClient.retryDelay(response.headers) ?? ServiceNowClient.defaultRetryDelay : nil)
    }

    /// `{"error":{"message":…,"detail":…},"status":"failure"}`
    static func errorEnvelope(_ body: Data) -> (message: String?, detail: String?) {
        struct Envelope: Decodable {
            struct Inner: Decodable { let message: String?; let detail: String? }
            let error: Inner?
        }
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: body) else { return (nil, nil) }
        return (envelope.error?.message, envelope.error?.detail)
    }

    /// The answer's `result`, one record. Read with ``JSONValue/parse(_:)`` rather than
    /// `JSONDecoder`, which tried each field as one type after another (about 2 % of the worker's
    /// CPU in scenario 1); it reads what `ServiceNowRecord`'s `Decodable` reads (tested).
    static func record(in response: ServiceNowClient.Response) throws(ServiceNowError) -> ServiceNowRecord {
        guard let record = ServiceNowRecord(json: try result(of: response)) else { throw notExpected(response, "the result is not a record") }
        return record
    }

    /// The answer's `result`, a list of records.
    static func records(in response: ServiceNowClient.Response) throws(ServiceNowError) -> [ServiceNowRecord] {
        guard case .array(let elements) = try result(of: response) else { throw notExpected(response, "the result is not a list") }
        var records: [ServiceNowRecord] = []
        records.reserveCapacity(elements.count)
        for element in elements {
            guard let record = ServiceNowRecord(json: element) else { throw notExpected(response, "a result is not a record") }
            records.append(record)
        }
        return records
    }

    private static func result(of response: ServiceNowClient.Response) throws(ServiceNowError) -> JSONValue {
        let answer: JSONValue
        do {
            answer = try JSONValue.parse(response.body)
        } catch {
            throw notExpected(response, "\(error)")
        }
        guard case .object(let members) = answer, let result = members["result"] else { throw notExpected(response, "it has no result") }
        return result
    }

    private static func notExpected(_ response: ServiceNowClient.Response, _ reason: String) -> ServiceNowError {
        ServiceNowError(.invalidResponse, status: response.status, message: "the answer is not the expected JSON: \(reason)")
    }

    // MARK: - Table API

    /// `sysparm_fields`: the answer carries only these fields instead of the whole record (about
    /// 90 on an incident), which the caller would decode and throw away. None asks for all.
    private static func ask(for fields: [String], in query: inout [(String, String)]) {
        if !fields.isEmpty { query.append(("sysparm_fields", fields.joined(separator: ","))) }
    }

    /// Table and field names are identifiers; checked so that nothing can be injected into a path.
    static func checkName(_ name: String, _ what: String) throws(ServiceNowError) {
        let valid = !name.isEmpty && name.utf8.count <= 80 && name.utf8.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_")
        }
        guard valid else { throw ServiceNowError(.badRequest, message: "'\(name)' is not a valid \(what) name") }
    }

    /// Creates a record (`POST /api/now/table/{table}`, 201) and returns it as stored (only the
    /// `returning` fields, when given).
    public func create(table: String, fields: [String: String], inputDisplayValue: Bool = false,
                       returning: [String] = []) async throws(ServiceNowError) -> ServiceNowRecord {
        try Self.checkName(table, "table")
        var query = [("sysparm_exclude_reference_link", "true")]
        if inputDisplayValue { query.append(("sysparm_input_display_value", "true")) }
        Self.ask(for: returning, in: &query)
        let body = try Self.encode(fields)
        let response = try await api(.POST, "/api/now/table/\(table)", query: query, body: body, operation: "create", table: table)
        return try Self.record(in: response)
    }

    /// Reads one record by sys_id; a missing one is ``ServiceNowError/Kind/notFound``.
    public func get(table: String, sysID: String, fields: [String] = []) async throws(ServiceNowError) -> ServiceNowRecord {
        try Self.checkName(table, "table")
        try Self.checkName(sysID, "sys_id")
        var query = [("sysparm_exclude_reference_link", "true")]
        Self.ask(for: fields, in: &query)
        let response = try await api(.GET, "/api/now/table/\(table)/\(sysID)", query: query, operation: "get", table: table, sysID: sysID)
        return try Self.record(in: response)
    }

    /// Changes fields of a record (`PATCH`) and returns it (only the `returning` fields, when
    /// given). Journal fields (`work_notes`, `comments`) append an entry.
    public func update(table: String, sysID: String, fields: [String: String], inputDisplayValue: Bool = false,
                       returning: [String] = []) async throws(ServiceNowError) -> ServiceNowRecord {
        try Self.checkName(table, "table")
        try Self.checkName(sysID, "sys_id")
        var query = [("sysparm_exclude_reference_link", "true")]
        if inputDisplayValue { query.append(("sysparm_input_display_value", "true")) }
        Self.ask(for: returning, in: &query)
        let response = try await api(.PATCH, "/api/now/table/\(table)/\(sysID)", query: query, body: try Self.encode(fields),
                                     operation: "update", table: table, sysID: sysID)
        return try Self.record(in: response)
    }

    /// One page of a query.
    public func queryPage(table: String, _ request: ServiceNowQuery, offset: Int = 0) async throws(ServiceNowError) -> ServiceNowPage {
        try Self.checkName(table, "table")
        var query = [("sysparm_query", request.query), ("sysparm_limit", String(request.pageSize)), ("sysparm_offset", String(offset))]
        Self.ask(for: request.fields, in: &query)
        if let display = request.displayValue { query.append(("sysparm_display_value", display)) }
        if request.excludeReferenceLink { query.append(("sysparm_exclude_reference_link", "true")) }
        let response = try await api(.GET, "/api/now/table/\(table)", query: query, operation: "query", table: table)
        let records = try Self.records(in: response)
        let total = UntrustedNumber.count(response.headers.first(name: "x-total-count"), within: 0...Self.largestOffset)
        let next = Self.nextOffset(linkHeader: response.headers[canonicalForm: "link"].map(String.init).joined(separator: ","))
        return ServiceNowPage(records: records, totalCount: total, nextOffset: next)
    }

    /// Every record matching the query, following `Link: rel="next"` until the last page, and at
    /// most `maximumRecords` of them (an instance whose links never end cannot keep the caller
    /// paging forever). The query should order its results (`ORDERBY…`), as paging over an
    /// unordered query can skip or repeat rows.
    public func queryAll(table: String, _ request: ServiceNowQuery, maximumRecords: Int = 10_000) async throws(ServiceNowError) -> [ServiceNowRecord] {
        var records: [ServiceNowRecord] = []
        var offset = 0
        while records.count < maximumRecords {
            let page = try await queryPage(table: table, request, offset: offset)
            records += page.records.prefix(maximumRecords - records.count)
            if let next = page.nextOffset, next > offset {
                offset = next
            } else if page.nextOffset == nil, let total = page.totalCount, offset + request.pageSize < total, !page.records.isEmpty {
                // No Link header but the count says there is more.
                offset += request.pageSize
            } else {
                break
            }
        }
        return records
    }

    /// Offsets and counts an instance reports are believed up to this; larger ones are ignored
    /// (they would overflow the arithmetic that pages through them).
    static let largestOffset = 100_000_000

    /// The `sysparm_offset` of the `rel="next"` link, if any. Entries are read by their angle
    /// brackets, not split on commas, since a URL's query may hold commas (`sys_idINa,b`).
    static func nextOffset(linkHeader: String) -> Int? {
        var rest = Substring(linkHeader)
        while let open = rest.firstIndex(of: "<"), let close = rest[open...].firstIndex(of: ">") {
            let url = String(rest[rest.index(after: open)..<close])
            rest = rest[rest.index(after: close)...]
            let parameters = rest.prefix { $0 != "<" }
            guard parameters.contains("rel=\"next\"") else { continue }
            guard let components = URLComponents(string: url),
                  let offset = UntrustedNumber.count(components.queryItems?.first(where: { $0.name == "sysparm_offset" })?.value,
                                                     within: 0...largestOffset)
            else { return nil }
            return offset
        }
        return nil
    }

    /// The fields as a JSON object, names in order. Written directly: through `JSONEncoder` each
    /// request's body cost about as much CPU as sending it.
    static func encode(_ fields: [String: String]) throws(ServiceNowError) -> Data {
        for name in fields.keys { try checkName(name, "field") }
        var json: [UInt8] = [UInt8(ascii: "{")]
        json.reserveCapacity(fields.reduce(2) { $0 + $1.key.utf8.count + $1.value.utf8.count + 6 })
        for (index, name) in fields.keys.sorted().enumerated() {
            if index > 0 { json.append(UInt8(ascii: ",")) }
            JSONText.appendQuoted(name, to: &json)
            json.append(UInt8(ascii: ":"))
            JSONText.appendQuoted(fields[name]!, to: &json)
        }
        json.append(UInt8(ascii: "}"))
        return Data(json)
    }
}
