/// A failure talking to a ServiceNow instance.
///
/// Every error says whether trying again later can help (``isRetryable``) and, for rate limits,
/// how long to wait (``retryAfter``). Descriptions carry what ServiceNow answered but never a
/// client secret or a token.
public struct ServiceNowError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Equatable {
        /// The instance URL is not allowed (scheme, host, private address).
        case urlRefused
        /// DNS, TCP connect or the connection failed before an answer.
        case unreachable
        /// The TLS handshake or certificate check failed.
        case tls
        /// No answer within the request timeout.
        case timeout
        /// The token endpoint refused the client credentials.
        case tokenRejected
        /// The API refused the token even after one refresh.
        case unauthorized
        /// 403: an ACL, a data policy or a business rule rejected the operation.
        case forbidden
        /// 404: no such record (or an ACL hides it).
        case notFound
        /// 400: a bad request, such as an unknown table.
        case badRequest
        /// 429: a rate limit rule; see ``retryAfter``.
        case rateLimited
        /// 5xx from the instance.
        case serverError
        /// An HTML page instead of JSON: a hibernating, upgrading or busy instance.
        case hibernating
        /// 202 Accepted: the request was queued behind a session and not processed.
        case notProcessed
        /// The answer could not be read (not JSON, missing fields).
        case invalidResponse
        /// This process already has the instance's full quota of requests in flight and no slot
        /// became free in time.
        case instanceBusy
        /// Any other HTTP status.
        case unexpectedStatus
    }

    public let kind: Kind
    /// The HTTP status, when there was an answer.
    public let status: Int?
    /// ServiceNow's `error.message` (or the token endpoint's `error`).
    public let message: String?
    /// ServiceNow's `error.detail` (or the token endpoint's `error_description`).
    public let detail: String?
    /// For 429: how long the instance asked us to wait.
    public let retryAfter: Duration?
    /// What to check, for errors an operator has to fix (used by Test Connection).
    public let likelyCauses: [String]

    public init(_ kind: Kind, status: Int? = nil, message: String? = nil, detail: String? = nil, retryAfter: Duration? = nil, likelyCauses: [String] = []) {
        self.kind = kind
        self.status = status
        self.message = message
        self.detail = detail
        self.retryAfter = retryAfter
        self.likelyCauses = likelyCauses
    }

    /// Whether the same request may succeed later: rate limits, 5xx, timeouts, connection
    /// failures, a hibernating or busy instance. 400/401/403/404 and refused URLs are final.
    public var isRetryable: Bool {
        switch kind {
        case .unreachable, .timeout, .rateLimited, .serverError, .hibernating, .notProcessed, .invalidResponse, .instanceBusy:
            return true
        case .urlRefused, .tls, .tokenRejected, .unauthorized, .forbidden, .notFound, .badRequest, .unexpectedStatus:
            return false
        }
    }

    /// `true` when the rejection names `assignment_group` or comes from a business rule, the two
    /// ways an instance refuses an assignment group it does not accept.
    public var mentionsAssignmentGroup: Bool {
        guard kind == .forbidden || kind == .badRequest else { return false }
        let text = ((message ?? "") + " " + (detail ?? "")).lowercased()
        return text.contains("assignment_group") || text.contains("assignment group") || text.contains("business rule")
    }

    public var description: String {
        var text = "ServiceNow \(kind.rawValue)"
        if let status { text += " (HTTP \(status))" }
        if let message, !message.isEmpty { text += ": \(message)" }
        if let detail, !detail.isEmpty { text += " — \(detail)" }
        if let retryAfter { text += "; retry after \(retryAfter)" }
        return text
    }
}
