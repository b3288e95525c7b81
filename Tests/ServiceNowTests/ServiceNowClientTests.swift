import Foundation
import Logging
import ServiceNow
import ServiceNowSimulator
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(2)))
struct ServiceNowClientTests {
    @Test func createReadUpdateAnIncident() async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        let created = try await sim.session.create(table: "incident", fields: [
            "short_description": "CPU usage above 95%", "impact": "1", "urgency": "2",
            "correlation_id": "ceburu:cust-42:trg-123", "work_notes": "opened by the worker",
        ])
        #expect(created["number"]?.hasPrefix("INC") == true)
        #expect(created["number"]?.count == 10)
        #expect(created.sysID.count == 32)
        #expect(created["state"] == "1")
        #expect(created["priority"] == "2")
        #expect(created["correlation_id"] == "ceburu:cust-42:trg-123")
        #expect(created["work_notes"] == "")
        #expect(created["sys_updated_by"] == "itsm.integration")

        let updated = try await sim.session.update(table: "incident", sysID: created.sysID, fields: ["state": "2", "work_notes": "acknowledged"])
        #expect(updated["state"] == "2")
        #expect(updated["sys_mod_count"] == "1")
        let journal = await sim.simulator.store.journal(sysID: created.sysID, element: "work_notes")
        #expect(journal.map { $0["value"] } == ["opened by the worker", "acknowledged"])

        // A write can ask for only the fields its caller reads.
        let brief = try await sim.session.create(table: "incident", fields: ["short_description": "brief"], returning: ["sys_id", "number", "state"])
        #expect(Set(brief.fields.keys) == ["sys_id", "number", "state"])
        let briefUpdate = try await sim.session.update(table: "incident", sysID: brief.sysID, fields: ["state": "2"], returning: ["state", "sys_updated_on"])
        #expect(Set(briefUpdate.fields.keys) == ["state", "sys_updated_on"])
        #expect(briefUpdate["state"] == "2")

        let read = try await sim.session.get(table: "incident", sysID: created.sysID, fields: ["number", "state"])
        #expect(read["number"] == created["number"])
        #expect(read["state"] == "2")
        #expect(read["short_description"] == nil)

        do {
            _ = try await sim.session.get(table: "incident", sysID: String(repeating: "0", count: 32))
            Issue.record("a missing record was found")
        } catch {
            #expect(error.kind == .notFound)
            #expect(!error.isRetryable)
        }
    }

    @Test func oneTokenServesConcurrentCallsAndLaterOnes() async throws {
        // The simulator's default lifetime (30 minutes): the burst may take seconds on a loaded
        // machine without the token coming due.
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<20 {
                group.addTask { _ = try await sim.session.create(table: "incident", fields: ["short_description": "n\(n)"]) }
            }
            try await group.waitForAll()
        }
        #expect(await sim.tokenRequests() == 1)
        _ = try await sim.session.queryPage(table: "incident", ServiceNowQuery("ORDERBYnumber", pageSize: 5))
        #expect(await sim.tokenRequests() == 1)
        #expect(sim.client.tokenRequestCount == 1)
    }

    @Test func aTokenIsRefreshedShortlyBeforeItExpires() async throws {
        let sim = try await SimulatedInstance.start { $0.tokenLifetime = .seconds(3) }
        defer { Task { await sim.stop() } }
        _ = try await sim.session.queryPage(table: "incident", ServiceNowQuery("ORDERBYnumber", pageSize: 5))
        #expect(await sim.tokenRequests() == 1)
        // 3 s lifetime, refreshed 0.3 s early: at 2.9 s the old token still works, but is not used.
        try await Task.sleep(for: .milliseconds(2900))
        _ = try await sim.session.queryPage(table: "incident", ServiceNowQuery("ORDERBYnumber", pageSize: 5))
        #expect(await sim.tokenRequests() == 2)
        #expect(sim.client.tokenRequestCount == 2)
    }

    @Test func aRefusedTokenIsRefreshedOnceAndTheCallRetriedOnce() async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        _ = try await sim.session.create(table: "incident", fields: ["short_description": "first"])
        await sim.simulator.store.revokeTokens()
        await sim.simulator.store.clearRequests()
        _ = try await sim.session.create(table: "incident", fields: ["short_description": "after revocation"])
        let statuses = await sim.simulator.store.requests().map { "\($0.path) \($0.status)" }
        #expect(statuses == ["/api/now/table/incident 401", "/oauth_token.do 200", "/api/now/table/incident 201"])

        // Refused again after the refresh: reported, not retried in a loop.
        await sim.simulator.store.clearRequests()
        await sim.simulator.store.inject(.status(401), count: 5)
        do {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "never"])
            Issue.record("a call refused twice succeeded")
        } catch {
            #expect(error.kind == .unauthorized)
            #expect(!error.isRetryable)
        }
        #expect(await sim.apiRequests().count == 2)
        #expect(await sim.tokenRequests() == 1)
        await sim.simulator.store.clearFaults()
    }

    @Test func tokenEndpointFailuresListTheLikelyCauses() async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        for (id, secret) in [("test-client", "wrong"), ("unknown", "x"), ("inactive-client", "x"), ("no-grant-client", "y")] {
            do {
                _ = try await sim.session(clientID: id, secret: secret).requestToken()
                Issue.record("\(id) got a token")
            } catch {
                #expect(error.kind == .tokenRejected)
                #expect(error.status == 401)
                #expect(error.detail == "access_denied")
                #expect(error.likelyCauses.count >= 3)
                #expect(error.likelyCauses.contains { $0.contains("glide.oauth.inbound.client.credential.grant_type.enabled") })
                #expect(!error.description.contains(secret) || secret.count < 2)
            }
        }
    }

    @Test func rateLimitedAnswersAreHonoured() async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        _ = try await sim.session.create(table: "incident", fields: ["short_description": "warm up"])
        await sim.simulator.store.inject(.status(429, retryAfterSeconds: 1), count: 1)
        let refusedAt = ContinuousClock.now
        do {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "limited"])
            Issue.record("429 was taken as success")
        } catch {
            #expect(error.kind == .rateLimited)
            #expect(error.isRetryable)
            #expect(error.retryAfter == .seconds(1))
        }
        _ = try await sim.session.create(table: "incident", fields: ["short_description": "after the pause"])
        let waited = ContinuousClock.now - refusedAt
        print("next request went out \(waited) after the 429 (Retry-After: 1)")
        #expect(waited >= .milliseconds(950))
    }

    @Test func rateLimitHeadersPaceRequestsInsteadOfDrawing429s() async throws {
        let sim = try await SimulatedInstance.start { $0.rateLimit = (limit: 5, window: .seconds(2)) }
        defer { Task { await sim.stop() } }
        let started = ContinuousClock.now
        for n in 0..<8 { _ = try await sim.session.create(table: "incident", fields: ["short_description": "paced \(n)"]) }
        let elapsed = ContinuousClock.now - started
        let statuses = await sim.apiRequests().map(\.status)
        print("8 creates under a 5-per-2s rule took \(elapsed); statuses \(statuses)")
        #expect(!statuses.contains(429))
        #expect(statuses.filter { $0 == 201 }.count == 8)
    }

    @Test(arguments: [500, 502, 503, 504])
    func serverErrorsAreRetryable(_ status: Int) async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        await sim.simulator.store.inject(.status(status), count: 1)
        do {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "x"])
            Issue.record("\(status) was taken as success")
        } catch {
            #expect(error.kind == .serverError)
            #expect(error.status == status)
            #expect(error.isRetryable)
        }
    }

    @Test func anHTMLPageOrA202IsNeverASuccess() async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        _ = try await sim.session.create(table: "incident", fields: ["short_description": "warm up"])
        await sim.simulator.store.inject(.hibernating, count: 1)
        await #expect(throws: ServiceNowError.self) {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "x"])
        }
        await sim.simulator.store.inject(.hibernating, count: 1)
        do {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "x"])
        } catch {
            #expect(error.kind == .hibernating)
            #expect(error.isRetryable)
        }
        await sim.simulator.store.inject(.accepted, count: 1)
        do {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "x"])
            Issue.record("202 was taken as success")
        } catch {
            #expect(error.kind == .notProcessed)
        }
        // The hibernation page on the token endpoint is named as such.
        await sim.simulator.store.inject(.hibernating, count: 1, scope: .token)
        do {
            _ = try await sim.session.requestToken()
            Issue.record("an HTML token answer was accepted")
        } catch {
            #expect(error.kind == .hibernating)
        }
    }

    @Test func droppedConnectionsAndHangsAreRetryable() async throws {
        let sim = try await SimulatedInstance.start(client: { $0.requestTimeout = .seconds(1) })
        defer { Task { await sim.stop() } }
        // The warm-up (token and connection) may itself miss the short timeout while the other
        // suites load the machine; it only has to succeed once.
        #expect(await eventually(15) { (try? await sim.session.create(table: "incident", fields: ["short_description": "warm up"])) != nil })
        await sim.simulator.store.inject(.dropConnection, count: 1)
        do {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "x"])
            Issue.record("a dropped connection was a success")
        } catch {
            #expect(error.isRetryable, "\(error)")
        }
        await sim.simulator.store.inject(.hang, count: 1)
        let started = ContinuousClock.now
        do {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "x"])
            Issue.record("a hung request was a success")
        } catch {
            #expect(error.kind == .timeout)
            #expect(error.isRetryable)
        }
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    @Test func unreachableInstance() async throws {
        let client = ServiceNowClient(logger: .init(label: "t"))
        defer { Task { await client.shutdown() } }
        let session = client.session(instance: try InstanceURLPolicy(allowInsecure: true).validate("http://127.0.0.1:1"),
                                     credentials: ServiceNowCredentials(clientID: "a", clientSecret: "b"))
        do {
            _ = try await session.requestToken()
            Issue.record("port 1 answered")
        } catch {
            #expect(error.kind == .unreachable)
            #expect(error.isRetryable)
        }
    }

    @Test func rejectionsCarryServiceNowsMessage() async throws {
        let sim = try await SimulatedInstance.start { $0.rejectedAssignmentGroups = ["Restricted Ops"] }
        defer { Task { await sim.stop() } }
        do {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "x", "assignment_group": "Restricted Ops"])
            Issue.record("the business rule did not fire")
        } catch {
            #expect(error.kind == .forbidden)
            #expect(error.message == "Operation Failed")
            #expect(error.detail?.contains("Business Rule") == true)
            #expect(error.mentionsAssignmentGroup)
        }
        let incident = try await sim.session.create(table: "incident", fields: ["short_description": "resolve me"])
        do {
            _ = try await sim.session.update(table: "incident", sysID: incident.sysID, fields: ["state": "6"])
            Issue.record("resolved without close code and notes")
        } catch {
            #expect(error.kind == .forbidden)
            #expect(error.detail?.contains("Data Policy Exception") == true)
            #expect(!error.mentionsAssignmentGroup)
        }
        // An invalid close code is silently dropped, so the data policy rejects the resolve.
        await #expect(throws: ServiceNowError.self) {
            _ = try await sim.session.update(table: "incident", sysID: incident.sysID,
                                             fields: ["state": "6", "close_code": "Solved (Permanently)", "close_notes": "done"])
        }
        let resolved = try await sim.session.update(table: "incident", sysID: incident.sysID,
                                                    fields: ["state": "6", "close_code": "Solution provided", "close_notes": "done"])
        #expect(resolved["state"] == "6")
        do {
            _ = try await sim.session.create(table: "u_no_such_table", fields: ["short_description": "x"])
            Issue.record("an unknown table accepted an insert")
        } catch {
            #expect(error.kind == .badRequest)
            #expect(error.message == "Invalid table u_no_such_table")
        }
    }

    @Test func queriesFollowEveryPage() async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        let ids = try await sim.simulator.store.seedIncidents(2500)
        await sim.simulator.store.clearRequests()
        let records = try await sim.session.queryAll(table: "incident", ServiceNowQuery(
            "active=true^ORDERBYnumber", fields: ["sys_id", "number"], pageSize: 1000))
        #expect(records.count == 2500)
        #expect(Set(records.map(\.sysID)) == Set(ids))
        #expect(await sim.apiRequests().count == 3)
        #expect(records.first?["short_description"] == nil)

        let page = try await sim.session.queryPage(table: "incident", ServiceNowQuery("sys_idIN\(ids.prefix(3).joined(separator: ","))^ORDERBYnumber", pageSize: 2))
        #expect(page.records.count == 2)
        #expect(page.totalCount == 3)
        #expect(page.nextOffset == 2)
        let last = try await sim.session.queryPage(table: "incident", ServiceNowQuery("sys_idIN\(ids.prefix(3).joined(separator: ","))^ORDERBYnumber", pageSize: 2), offset: 2)
        #expect(last.records.count == 1)
        #expect(last.nextOffset == nil)
    }

    @Test func metadataReads() async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        #expect(try await sim.session.tableExists("incident"))
        #expect(try await sim.session.tableExists("u_custom_thing") == false)
        let fields = try await sim.session.fields(table: "incident")
        let byName = Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0) })
        #expect(byName["short_description"]?.maxLength == 160)
        #expect(byName["short_description"]?.mandatory == true)
        #expect(byName["short_description"]?.definedOn == "task")
        #expect(byName["assignment_group"]?.type == "reference")
        #expect(byName["assignment_group"]?.reference == "sys_user_group")
        #expect(byName["close_code"]?.definedOn == "incident")
        let closeCodes = try await sim.session.choices(table: "incident", field: "close_code")
        #expect(closeCodes.map(\.value).contains("Solution provided"))
        #expect(!closeCodes.map(\.value).contains("Solved (Permanently)"))
        let subcategories = try await sim.session.choices(table: "incident", field: "subcategory")
        #expect(subcategories.first { $0.value == "dns" }?.dependentValue == "network")
    }

    @Test func thePerInstanceLimitHoldsAcrossTheProcess() async throws {
        let sim = try await SimulatedInstance.start { $0.baseLatency = .milliseconds(100) }
        defer { Task { await sim.stop() } }
        _ = try await sim.session.requestToken()
        await sim.simulator.store.resetPeak()
        // Two sessions (two integrations) on one instance share its limit.
        let other = sim.session(clientID: SimulatedInstance.clientID, secret: SimulatedInstance.clientSecret)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<24 {
                let session = n.isMultiple(of: 2) ? sim.session : other
                group.addTask { _ = try await session.create(table: "incident", fields: ["short_description": "n\(n)"]) }
            }
            try await group.waitForAll()
        }
        let peak = await sim.simulator.store.peakConcurrency()
        print("peak concurrent requests seen by the simulator: \(peak)")
        #expect(peak == 4)
        #expect(sim.client.peakConcurrency(for: sim.instance) == 4)
    }

    @Test func noLogLineOrErrorContainsASecretOrToken() async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        let token = try await sim.session.requestToken().accessToken
        _ = try await sim.session.create(table: "incident", fields: ["short_description": "x"])
        await sim.simulator.store.revokeTokens()
        _ = try await sim.session.create(table: "incident", fields: ["short_description": "y"])
        await sim.simulator.store.inject(.status(500), count: 1)
        _ = try? await sim.session.create(table: "incident", fields: ["short_description": "z"])
        _ = try? await sim.session(clientID: "test-client", secret: "another-Secret-Value").requestToken()
        let lines = sim.logs.all
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(!line.contains(SimulatedInstance.clientSecret))
            #expect(!line.contains("another-Secret-Value"))
            #expect(!line.contains(token))
        }
        #expect(!"\(ServiceNowCredentials(clientID: "a", clientSecret: "hidden-value"))".contains("hidden-value"))
    }

    @Test func sessionCookiesAreNeverSentBackAndRedirectsAreNotFollowed() async throws {
        let sim = try await SimulatedInstance.start()
        defer { Task { await sim.stop() } }
        for n in 0..<3 { _ = try await sim.session.create(table: "incident", fields: ["short_description": "c\(n)"]) }
        let requests = await sim.simulator.store.requests()
        #expect(requests.count >= 4)
        #expect(requests.allSatisfy { !$0.hadCookie })
        await sim.simulator.store.inject(.redirect, count: 1)
        do {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "moved"])
            Issue.record("a redirect was followed or taken as success")
        } catch {
            #expect(error.status == 302)
            #expect(!error.isRetryable)
        }
    }
}
