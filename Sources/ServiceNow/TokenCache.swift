import Foundation
import Synchronization

/// One integration's token: cached until shortly before it expires, refreshed by a single
/// request however many calls need it at once, dropped when the API refuses it.
final class TokenCache: Sendable {
    private struct State {
        var token: CachedToken?
        var refresh: Task<CachedToken, any Error>?
    }

    private let state = Mutex(State())

    func token(fetch: @escaping @Sendable () async throws(ServiceNowError) -> CachedToken) async throws(ServiceNowError) -> CachedToken {
        let task = state.withLock { state -> Task<CachedToken, any Error> in
            if let token = state.token, ContinuousClock.now < token.refreshAt {
                return Task { token }
            }
            if let refresh = state.refresh { return refresh }
            let refresh = Task<CachedToken, any Error> { try await fetch() }
            state.refresh = refresh
            return refresh
        }
        do {
            let token = try await task.value
            state.withLock { state in
                if state.refresh == task {
                    state.token = token
                    state.refresh = nil
                }
            }
            return token
        } catch {
            state.withLock { state in
                if state.refresh == task { state.refresh = nil }
            }
            throw error as? ServiceNowError ?? ServiceNowError(.invalidResponse, message: "\(error)")
        }
    }

    /// Forgets `token` after the API refused it, so the next call fetches a new one.
    func invalidate(_ token: String) {
        state.withLock { state in
            if state.token?.value == token { state.token = nil }
        }
    }

    func clear() {
        state.withLock { $0.token = nil }
    }
}
