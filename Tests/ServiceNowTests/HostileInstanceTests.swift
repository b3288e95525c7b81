import Foundation
import ServiceNow
import ServiceNowSimulator
import Testing

/// An instance is an untrusted peer: whatever numbers, headers and bodies it sends, the client
/// answers with a typed error or a bounded value, and never traps.
@Suite(.timeLimit(.minutes(2)))
struct HostileInstanceTests {
    static let rateLimited = #"{"error":{"message":"Rate limit exceeded","detail":"x"},"status":"failure"}"#

    @Test(arguments: ["1e300", "nan", "-5", "inf", "99999999999999999999", "soon", "0x10", "1.5"])
    func anAbsurdRetryAfterIsBounded(_ value: String) async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        await sim.simulator.store.inject(.answer(status: 429, headers: ["Retry-After": value, "Content-Type": "application/json"],
                                                 body: Self.rateLimited))
        do {
            _ = try await sim.session.get(table: "incident", sysID: String(repeating: "0", count: 32))
            Issue.record("a 429 was taken for an answer")
        } catch {
            #expect(error.kind == .rateLimited)
            let delay = try #require(error.retryAfter)
            #expect(delay >= .zero && delay <= ServiceNowClient.longestRetryDelay, "Retry-After \(value) → \(delay)")
        }
    }

    @Test(arguments: [("nan", "10"), ("-1e300", "10"), ("1e300", "10"), ("99999999999", "1e300"), ("x", "-3")])
    func absurdRateLimitHeadersNeitherTrapNorBlockForever(_ reset: String, _ limit: String) async throws {
        let sim = try await SimulatedInstance.start(client: { $0.maximumSlotWait = .seconds(1) })
        defer { Task { await sim.stop() } }
        await sim.simulator.store.inject(.answer(status: 404, headers: ["X-RateLimit-Reset": reset, "X-RateLimit-Limit": limit,
                                                                        "Content-Type": "application/json"],
                                                 body: #"{"error":{"message":"No Record found","detail":null},"status":"failure"}"#), count: 3)
        for _ in 0..<3 {
            await #expect(throws: ServiceNowError.self) { _ = try await sim.session.get(table: "incident", sysID: String(repeating: "0", count: 32)) }
        }
        // The instance still answers normal requests afterwards, or says how long to wait.
        do {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "after"])
        } catch {
            #expect(error.kind == .rateLimited, "\(error)")
            #expect((error.retryAfter ?? .zero) <= ServiceNowClient.longestRetryDelay)
        }
    }

    @Test(arguments: ["1e300", "0", "-1", "\"1799\"", "\"never\"", "null", "[]"])
    func anAbsurdTokenLifetimeIsBounded(_ expiresIn: String) async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        await sim.simulator.store.inject(.answer(status: 200, headers: ["Content-Type": "application/json"],
                                                 body: #"{"access_token":"t-1","token_type":"Bearer","expires_in":\#(expiresIn)}"#), scope: .token)
        let token = try await sim.session.requestToken()
        #expect(token.accessToken == "t-1")
        #expect(token.expiresIn <= .seconds(86_400), "expires_in \(expiresIn) → \(token.expiresIn)")
    }

    @Test func aHugeAnswerIsRefusedWithoutReadingItAll() async throws {
        let sim = try await SimulatedInstance.start(client: { $0.maximumResponseBytes = 1024 * 1024 })
        defer { Task { await sim.stop() } }
        _ = try await sim.session.requestToken()
        await sim.simulator.store.inject(.largeBody(bytes: 50 * 1024 * 1024))
        do {
            _ = try await sim.session.queryPage(table: "incident", ServiceNowQuery("active=true", pageSize: 10))
            Issue.record("a 50 MB answer was read")
        } catch {
            #expect(error.kind == .invalidResponse)
            #expect(error.message?.contains("larger than") == true, "\(error)")
        }
    }

    @Test func anAnswerThatNeverEndsTimesOut() async throws {
        let sim = try await SimulatedInstance.start(client: { $0.requestTimeout = .seconds(2) })
        defer { Task { await sim.stop() } }
        _ = try await sim.session.requestToken()
        await sim.simulator.store.inject(.endlessBody)
        let started = ContinuousClock.now
        do {
            _ = try await sim.session.queryPage(table: "incident", ServiceNowQuery("active=true", pageSize: 10))
            Issue.record("an endless answer ended")
        } catch {
            #expect(error.kind == .timeout, "\(error)")
            #expect(error.isRetryable)
        }
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func pagingLinksThatNeverEndStop() async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        let link = #"<http://x/api/now/table/incident?sysparm_offset=9223372036854775807>;rel="next""#
        let page = #"{"result":[{"sys_id":"0123456789abcdef0123456789abcdef"}]}"#
        await sim.simulator.store.inject(.answer(status: 200, headers: ["Link": link, "X-Total-Count": "99999999999999999999", "Content-Type": "application/json"],
                                                 body: page), count: -1)
        let records = try await sim.session.queryAll(table: "incident", ServiceNowQuery("ORDERBYnumber", pageSize: 1), maximumRecords: 50)
        #expect(records.count <= 50)
        await sim.simulator.store.clearFaults()
    }
}
