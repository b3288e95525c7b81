import Foundation

extension SimulatorStore {
    // MARK: - Request bookkeeping (used by the HTTP layer)

    func begin() {
        inFlight += 1
        peak = max(peak, inFlight)
    }

    func end(_ request: SimulatorRequest) {
        inFlight -= 1
        log.append(request)
    }

    func takeFault(for scope: SimulatorFaultScope) -> SimulatorFault? {
        guard let index = faults.firstIndex(where: { $0.scope == .all || $0.scope == scope }) else { return nil }
        let fault = faults[index].fault
        if faults[index].remaining > 0 {
            faults[index].remaining -= 1
            if faults[index].remaining == 0 { faults.remove(at: index) }
        }
        return fault
    }

    /// Counts a request against the rate limit rule: the headers to send, or a 429 delay.
    func rateLimitCheck() -> (headers: [(String, String)], exceededRetryAfter: Int?) {
        guard let (limit, window) = configuration.rateLimit else { return ([], nil) }
        let now = ContinuousClock.now
        if now - rateWindowStart >= window {
            rateWindowStart = now
            rateWindowWall = Date()
            rateCount = 0
        }
        rateCount += 1
        let windowSeconds = Double(window.components.seconds) + Double(window.components.attoseconds) / 1e18
        let reset = rateWindowWall.addingTimeInterval(windowSeconds)
        let headers = [("X-RateLimit-Limit", String(limit)), ("X-RateLimit-Reset", String(Int(reset.timeIntervalSince1970.rounded(.up)))),
                       ("X-RateLimit-Rule", "simulated-rule")]
        if rateCount > limit {
            return (headers, max(1, Int((reset.timeIntervalSinceNow).rounded(.up))))
        }
        return (headers, nil)
    }

    // MARK: - OAuth

    enum TokenOutcome {
        case issued(token: String, expiresIn: Int)
        case refused(status: Int, error: String, description: String)
    }

    func issueToken(form: [String: String]) -> TokenOutcome {
        let denied = TokenOutcome.refused(status: 401, error: "server_error", description: "access_denied")
        guard form["grant_type"] == "client_credentials",
              let client = configuration.clients.first(where: { $0.clientID == form["client_id"] }),
              client.clientSecret == form["client_secret"], client.active, client.grantEnabled
        else { return denied }
        guard let user = client.applicationUser else {
            return .refused(status: 401, error: "unauthorized_client", description: "access_denied")
        }
        var bytes = [UInt8](repeating: 0, count: 48)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        let token = Data(bytes).base64EncodedString().replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "+", with: "-")
        tokens[token] = IssuedToken(clientID: client.clientID, user: user, expiresAt: .now + configuration.tokenLifetime)
        return .issued(token: token, expiresIn: Int(configuration.tokenLifetime.components.seconds))
    }

    /// The user a bearer token acts as, or `nil` if it is unknown, expired or revoked.
    func authenticate(_ authorization: String?) -> String? {
        guard let authorization, authorization.hasPrefix("Bearer ") else { return nil }
        let token = String(authorization.dropFirst("Bearer ".count))
        guard let issued = tokens[token], issued.expiresAt > .now else { return nil }
        guard configuration.clients.contains(where: { $0.clientID == issued.clientID && $0.active }) else { return nil }
        return issued.user
    }
}
