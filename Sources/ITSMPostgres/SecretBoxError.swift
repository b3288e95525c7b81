import Foundation

public enum SecretBoxError: Error, Equatable, CustomStringConvertible {
    case invalidKey
    case sealFailed
    case openFailed
    case unknownKey(String)
    case noKey

    public var description: String {
        switch self {
        case .invalidKey: return "ITSM_SECRET_KEY must be base64 of exactly 32 bytes"
        case .sealFailed: return "could not encrypt the secret"
        case .openFailed: return "could not decrypt the secret (tampered, sealed with another key, or sealed for another customer)"
        case .unknownKey(let id): return "the secret was sealed with key \(id), which is neither ITSM_SECRET_KEY nor in ITSM_SECRET_KEY_PREVIOUS"
        case .noKey: return "ITSM_SECRET_KEY is not set; it is needed to store or read client secrets"
        }
    }
}
