/// An instance's refusal or failure, as the rules need to see it.
public struct GatewayError: Error, CustomStringConvertible, Sendable {
    /// The refusals the rules treat apart; everything else is `other`.
    public enum Kind: Sendable, Equatable {
        case notFound
        case forbidden
        case other
    }

    /// What the instance's failure means for its circuit.
    public enum InstanceHealth: Sendable, Equatable {
        /// The instance is failing (unreachable, timing out, 5xx): counts toward opening.
        case failing
        /// The instance answered, even if it refused: counts as a success.
        case answering
        /// Neither: the instance asked us to slow down.
        case unknown
    }

    public var kind: Kind
    /// For `ticket.failed` and metrics, e.g. `servicenow_forbidden`.
    public var code: String
    public var isRetryable: Bool
    /// A rate limit or a busy instance: the message waits without using up an attempt.
    public var parks: Bool
    public var health: InstanceHealth
    /// The least wait the instance asked for.
    public var retryAfter: Duration?
    /// The instance's own words.
    public var message: String?
    public var detail: String?
    /// A business rule or ACL refused the assignment group: the create is retried without it.
    public var mentionsAssignmentGroup: Bool
    public var description: String

    public init(kind: Kind, code: String, isRetryable: Bool, parks: Bool = false, health: InstanceHealth, retryAfter: Duration? = nil,
                message: String? = nil, detail: String? = nil, mentionsAssignmentGroup: Bool = false, description: String) {
        self.kind = kind
        self.code = code
        self.isRetryable = isRetryable
        self.parks = parks
        self.health = health
        self.retryAfter = retryAfter
        self.message = message
        self.detail = detail
        self.mentionsAssignmentGroup = mentionsAssignmentGroup
        self.description = description
    }

    /// The instance's words for a `ticket.failed`, or the description when it gave none.
    public var ownWords: String {
        let words = [message, detail].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
        return words.isEmpty ? description : words
    }
}
