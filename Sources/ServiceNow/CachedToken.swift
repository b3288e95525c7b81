import Foundation

/// An access token and when to stop using it.
struct CachedToken: Sendable {
    let value: String
    let expiresAt: ContinuousClock.Instant
    let refreshAt: ContinuousClock.Instant
}
