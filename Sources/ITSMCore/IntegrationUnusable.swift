/// Why a stored integration cannot be used (its secret cannot be opened, its URL or proxy is
/// refused); final until an operator fixes it.
public struct IntegrationUnusable: Error, CustomStringConvertible {
    public let code: String
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
