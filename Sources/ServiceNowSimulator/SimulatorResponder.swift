import Foundation
import NIOFoundationCompat
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import NIOCore
import ServiceLifecycle

struct SimulatorResponder: HTTPResponder {
    typealias Context = BasicRequestContext
    let store: SimulatorStore

    func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        if path.hasPrefix("/sim/") { return try await control(request, path: path, context: context) }
        let scope: SimulatorFaultScope = path == "/oauth_token.do" ? .token : .api
        await store.begin()
        var status = 500
        defer {
            let record = SimulatorRequest(method: request.method.rawValue, path: path, query: request.uri.query ?? "", status: status,
                                          hadAuthorization: request.headers[.authorization] != nil, hadCookie: request.headers[.cookie] != nil,
                                          table: Self.table(of: path))
            Task { await store.end(record) }
        }
        let configuration = await store.configuration
        if configuration.baseLatency > .zero { try await Task.sleep(for: configuration.baseLatency) }
        if let fault = await store.takeFault(for: scope) {
            switch fault {
            case .status(let code, let retryAfter):
                status = code
                var headers: HTTPFields = [.contentType: "application/json"]
                if let retryAfter { headers[.retryAfter] = String(retryAfter) }
                let message = code == 429 ? "Rate limit exceeded" : (code == 503 ? "Service Unavailable" : "Internal Server Error")
                let detail = code == 429 ? "Rate limit of 100 requests per hour for Table API exceeded" : "simulated failure"
                return Self.json(code, Self.errorBody(message, detail), headers: headers)
            case .hibernating:
                status = 200
                return Response(status: .ok, headers: [.contentType: "text/html; charset=UTF-8"],
                                body: .init(byteBuffer: ByteBuffer(string: Self.hibernationPage)))
            case .accepted:
                status = 202
                return Response(status: .accepted, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "")))
            case .slow(let delay):
                try await Task.sleep(for: delay)
            case .dropConnection:
                status = 0
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(contentLength: 4096) { writer in
                    try await writer.write(ByteBuffer(string: "{\"result\":"))
                    throw SimulatedDrop()
                })
            case .hang:
                status = 0
                try await Task.sleep(for: .seconds(600))
            case .redirect:
                status = 302
                return Response(status: .found, headers: [.location: "http://127.0.0.1:1/elsewhere"])
            case .answer(let code, let fields, let body):
                status = code
                var headers = HTTPFields()
                for (name, value) in fields {
                    if let name = HTTPField.Name(name) { headers.append(HTTPField(name: name, value: value)) }
                }
                return Response(status: .init(code: code), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
            case .largeBody(let bytes):
                status = 200
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { writer in
                    let chunk = ByteBuffer(repeating: UInt8(ascii: " "), count: 64 * 1024)
                    try await writer.write(ByteBuffer(string: "{\"result\":"))
                    var sent = 0
                    while sent < bytes {
                        try await writer.write(chunk.getSlice(at: 0, length: min(chunk.readableBytes, bytes - sent))!)
                        sent += chunk.readableBytes
                    }
                    try await writer.write(ByteBuffer(string: "[]}"))
                    try await writer.finish(nil)
                })
            case .endlessBody:
                status = 200
                return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "{\"result\":["))
                    while true {
                        try await Task.sleep(for: .milliseconds(200))
                        try await writer.write(ByteBuffer(string: " "))
                    }
                })
            }
        }
        let (rateHeaders, exceeded) = await store.rateLimitCheck()
        if let retryAfter = exceeded {
            status = 429
            var headers = HTTPFields(rateHeaders.map { HTTPField(name: HTTPField.Name($0.0)!, value: $0.1) })
            headers[.retryAfter] = String(retryAfter)
            headers[.contentType] = "application/json"
            return Self.json(429, Self.errorBody("Rate limit exceeded", "Rate limit of \(configuration.rateLimit?.limit ?? 0) requests per hour for Table API exceeded"), headers: headers)
        }
        var response: Response
        if path == "/oauth_token.do" && request.method == .post {
            response = try await token(request, context: context)
        } else if path.hasPrefix("/api/now/table/") {
            response = try await table(request, path: path, context: context)
        } else {
            response = Self.json(400, Self.errorBody("Requested URI does not represent any resource", nil))
        }
        for (name, value) in rateHeaders { response.headers[HTTPField.Name(name)!] = value }
        // Real instances set session cookies; clients must not send them back.
        response.headers[.setCookie] = "JSESSIONID=\(UUID().uuidString); Path=/; HttpOnly"
        status = Int(response.status.code)
        return response
    }

    static func table(of path: String) -> String? {
        guard path.hasPrefix("/api/now/table/") else { return nil }
        return path.dropFirst("/api/now/table/".count).split(separator: "/").first.map(String.init)
    }

    // MARK: OAuth

    private func token(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let body = String(buffer: try await request.collectBody(upTo: 64 * 1024))
        let type = request.headers[.contentType] ?? ""
        // The endpoint takes form-encoded bodies only; JSON fails.
        guard type.contains("application/x-www-form-urlencoded") else {
            return Self.json(401, #"{"error_description":"access_denied","error":"server_error"}"#)
        }
        var form: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            if parts.count == 2 { form[parts[0]] = parts[1] }
        }
        switch await store.issueToken(form: form) {
        case .issued(let token, let expiresIn):
            return Self.json(200, #"{"access_token":"\#(token)","scope":"useraccount","token_type":"Bearer","expires_in":\#(expiresIn)}"#)
        case .refused(let status, let error, let description):
            return Self.json(status, #"{"error_description":"\#(description)","error":"\#(error)"}"#)
        }
    }

    // MARK: Table API

    private func table(_ request: Request, path: String, context: Context) async throws -> Response {
        guard let user = await store.authenticate(request.headers[.authorization]) else {
            return Self.json(401, Self.errorBody("User Not Authenticated", "Required to provide Auth information"),
                             headers: [.wwwAuthenticate: "BASIC realm=\"Service-now\""])
        }
        let parts = path.dropFirst("/api/now/table/".count).split(separator: "/").map(String.init)
        guard let table = parts.first, await store.tableExists(table) else {
            return Self.json(400, Self.errorBody("Invalid table \(parts.first ?? "")", nil))
        }
        let sysID = parts.count > 1 ? parts[1] : nil
        let parameters = request.uri.queryParameters
        func parameter(_ name: String) -> String? { parameters[Substring(name)].map(String.init) }
        let fields = parameter("sysparm_fields").map { $0.split(separator: ",").map(String.init) }
        let display = parameter("sysparm_display_value") ?? "false"
        let excludeLinks = parameter("sysparm_exclude_reference_link") == "true"
        let inputDisplay = parameter("sysparm_input_display_value") == "true"
        let base = "http://\(request.head.authority ?? "localhost")"

        func render(_ record: [String: String]) async -> String {
            await renderRecord(record, table: table, fields: fields, display: display, excludeLinks: excludeLinks, base: base)
        }

        do {
            switch (request.method, sysID) {
            case (.get, nil):
                if await store.denied(table, "query") {
                    return Self.json(403, Self.errorBody("Operation Failed", "ACL Exception Query Failed due to security constraints"))
                }
                if await store.denied(table, "read") { return Self.json(200, #"{"result":[]}"#) }
                let rows = await store.query(table: table, query: parameter("sysparm_query") ?? "")
                let limit = max(1, Int(parameter("sysparm_limit") ?? "") ?? 10000)
                let offset = max(0, Int(parameter("sysparm_offset") ?? "") ?? 0)
                let page = offset < rows.count ? Array(rows[offset..<min(rows.count, offset + limit)]) : []
                var rendered: [String] = []
                for row in page { rendered.append(await render(row)) }
                var headers: HTTPFields = [.contentType: "application/json"]
                headers[HTTPField.Name("X-Total-Count")!] = String(rows.count)
                headers[HTTPField.Name("Link")!] = Self.linkHeader(base: base, path: path, request: request, offset: offset, limit: limit, total: rows.count)
                return Self.json(200, #"{"result":[\#(rendered.joined(separator: ","))]}"#, headers: headers)
            case (.get, let id?):
                guard !(await store.denied(table, "read")), let record = await store.record(table, sysID: id) else {
                    return Self.json(404, Self.errorBody("No Record found", "Record doesn't exist or ACL restricts the record retrieval"))
                }
                return Self.json(200, #"{"result":\#(await render(record))}"#)
            case (.post, nil):
                if await store.denied(table, "create") {
                    return Self.json(403, Self.errorBody("Operation Failed", "ACL Exception Insert Failed due to security constraints"))
                }
                let body = try await Self.bodyFields(request)
                let record = try await store.createRecord(table: table, body: body, user: user, inputDisplayValue: inputDisplay)
                return Self.json(201, #"{"result":\#(await render(record))}"#,
                                 headers: [.location: "\(base)/api/now/table/\(table)/\(record["sys_id"]!)"])
            case (.patch, let id?), (.put, let id?):
                if await store.denied(table, "write") {
                    return Self.json(403, Self.errorBody("Operation Failed", "ACL Exception Update Failed due to security constraints"))
                }
                let body = try await Self.bodyFields(request)
                let record = try await store.applyUpdate(table: table, sysID: id, body: body, user: user, inputDisplayValue: inputDisplay)
                return Self.json(200, #"{"result":\#(await render(record))}"#)
            case (.delete, let id?):
                guard await store.deleteRecord(table: table, sysID: id) else {
                    return Self.json(404, Self.errorBody("No Record found", "Record doesn't exist or ACL restricts the record retrieval"))
                }
                return Response(status: .noContent)
            default:
                return Self.json(405, Self.errorBody("Method not Supported", nil))
            }
        } catch let rejection as SimulatorStore.SimulatorRejection {
            return Self.json(rejection.status, Self.errorBody(rejection.message, rejection.detail))
        } catch is BadBody {
            return Self.json(400, Self.errorBody("Exception while reading request", "The payload is not valid JSON."))
        }
    }

    private func renderRecord(_ record: [String: String], table: String, fields: [String]?, display: String, excludeLinks: Bool, base: String) async -> String {
        let names = (fields ?? record.keys.sorted()).filter { record[$0] != nil }
        var parts: [String] = []
        for name in names {
            // Journal fields always read back empty.
            let value = (name == "work_notes" || name == "comments") ? "" : record[name]!
            let reference = await store.referenceTable(field: name)
            let shown: String
            switch display {
            case "true":
                shown = Self.quote(await store.displayValue(table: table, field: name, value: value))
            case "all":
                let label = await store.displayValue(table: table, field: name, value: value)
                shown = #"{"display_value":\#(Self.quote(label)),"value":\#(Self.quote(value))}"#
            default:
                if let reference, !excludeLinks, !value.isEmpty {
                    shown = #"{"link":\#(Self.quote("\(base)/api/now/table/\(reference)/\(value)")),"value":\#(Self.quote(value))}"#
                } else {
                    shown = Self.quote(value)
                }
            }
            parts.append("\(Self.quote(name)):\(shown)")
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    static func linkHeader(base: String, path: String, request: Request, offset: Int, limit: Int, total: Int) -> String {
        var items = URLComponents(string: "http://x/?\(request.uri.query ?? "")")?.queryItems?.filter { $0.name != "sysparm_offset" } ?? []
        func link(_ at: Int, _ rel: String) -> String {
            items.removeAll { $0.name == "sysparm_offset" }
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            let query = (items + [URLQueryItem(name: "sysparm_offset", value: String(at))])
                .map { "\($0.name)=\(($0.value ?? "").addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
                .joined(separator: "&")
            return "<\(base)\(path)?\(query)>;rel=\"\(rel)\""
        }
        var links = [link(0, "first"), link(offset - limit, "prev")]
        if offset + limit < total { links.append(link(offset + limit, "next")) }
        links.append(link(max(0, (total - 1) / limit * limit), "last"))
        return links.joined(separator: ",")
    }

    struct BadBody: Error {}

    static func bodyFields(_ request: Request) async throws -> [String: String] {
        var request = request
        let buffer = try await request.collectBody(upTo: 10 * 1024 * 1024)
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any] else { throw BadBody() }
        var fields: [String: String] = [:]
        for (key, value) in object {
            switch value {
            case let s as String: fields[key] = s
            case let n as NSNumber: fields[key] = n.stringValue
            case is NSNull: fields[key] = ""
            default: fields[key] = String(describing: value)
            }
        }
        return fields
    }

    static func quote(_ text: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }

    static func errorBody(_ message: String, _ detail: String?) -> String {
        #"{"error":{"message":\#(quote(message)),"detail":\#(detail.map(quote) ?? "null")},"status":"failure"}"#
    }

    static func json(_ status: Int, _ body: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json;charset=UTF-8"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static let hibernationPage = """
        <html><head><title>Instance Hibernating page</title></head><body><h1>Your instance is hibernating</h1>\
        <p>Sign in to the developer portal to wake it up.</p></body></html>
        """
}
