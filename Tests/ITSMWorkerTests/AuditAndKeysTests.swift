import AMQP
import Crypto
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMPostgres
import ITSMServiceNow
import ITSMWorker
import Postgres
import ServiceNowSimulator
import TestSupport
import Testing

@Suite(.stopsTestStacks, .timeLimit(.minutes(2)))
struct AuditAndKeysTests {
    @Test func everyServiceNowCallAndDecisionIsInTheAlertsAuditTrail() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        try await stack.addMapping(customer: "cust-1", network: "net-1", fields: #"{"short_description": "{{alert.title}}", "assignment_group": "Restricted Ops"}"#)
        let worker = try await stack.startWorker()
        try await stack.publishRaised(alertID: "audited")
        #expect(await stack.eventually { stack.events.forAlert("audited").count == 1 })
        try await worker.runtime.audit.flush()
        let entries = try await worker.runtime.audit.entries(customerID: "cust-1", alertID: "audited")
        let calls = entries.filter { $0.kind == "servicenow" }
        #expect(calls.contains { $0.method == "POST create" && $0.status == 403 && $0.message?.contains("Business Rule") == true })
        #expect(calls.contains { $0.method == "POST create" && $0.status == 201 })
        #expect(calls.allSatisfy { $0.durationMs != nil })
        #expect(entries.contains { $0.kind == "decision" && $0.message?.contains("created") == true })
        // Retention: nothing is pruned that is younger than it.
        #expect(try await worker.runtime.audit.prune() == 0)
    }

    @Test func theResolverReusesAResolutionOnlyWhileTheStoredIntegrationIsUnchanged() async throws {
        let stack = try await TestStack.make(simulators: 2)
        try await stack.addIntegration(customer: "cust-1")
        let worker = try await stack.startWorker(roles: [.alerts])
        let resolver = worker.runtime.resolver
        let store = ConfigurationStore(pool: stack.pool)
        let first = try #require(try await store.integration(customerID: "cust-1"))
        let resolved = try resolver.resolve(first)
        #expect(try resolver.resolve(first).instance == resolved.instance)

        // Moved to another instance.
        try await stack.addIntegration(customer: "cust-1", simulator: 1)
        let moved = try #require(try await store.integration(customerID: "cust-1"))
        #expect(try resolver.resolve(moved).instance != resolved.instance)

        // A secret sealed with a key this worker does not have is reported, not served from memory.
        let strangerKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try await store.saveIntegration(customerID: "cust-1", instanceURL: moved.instanceURL, clientID: moved.clientID,
                                        sealedSecret: try SecretBox(currentKey: strangerKey).seal("other", customerID: "cust-1"), settings: IntegrationSettings())
        let unreadable = try #require(try await store.integration(customerID: "cust-1"))
        #expect(throws: IntegrationResolver.Unusable.self) { try resolver.resolve(unreadable) }
    }

    @Test func rotatingTheKeyResealsSecretsAndTheOldKeyStillReadsMeanwhile() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        let newKey = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let rotating = try SecretBox(currentKey: newKey, previousKeys: [TestStack.secretKey])
        let store = ConfigurationStore(pool: stack.pool)
        let before = try #require(try await store.integration(customerID: "cust-1"))
        #expect(try rotating.open(before.sealedSecret, customerID: "cust-1") == "Sup3r-Secret-Value")
        #expect(try await store.resealSecrets(with: rotating) == 1)
        let after = try #require(try await store.integration(customerID: "cust-1"))
        #expect(after.sealedSecret.keyID == rotating.currentKeyID)
        #expect(try SecretBox(currentKey: newKey).open(after.sealedSecret, customerID: "cust-1") == "Sup3r-Secret-Value")
        #expect(throws: SecretBoxError.self) { try SecretBox(currentKey: TestStack.secretKey).open(after.sealedSecret, customerID: "cust-1") }
        #expect(try await store.resealSecrets(with: rotating) == 0)
    }

    /// The customer id is the sealed secret's associated data: a sealed secret copied into another
    /// customer's row does not open there. Secrets sealed before that still open until
    /// rotate-keys reseals them bound.
    @Test func aSealedSecretOpensOnlyForItsCustomer() async throws {
        let stack = try await TestStack.make()
        try await stack.addIntegration(customer: "cust-1")
        let store = ConfigurationStore(pool: stack.pool)
        let victim = try #require(try await store.integration(customerID: "cust-1"))
        #expect(victim.sealedSecret.boundToCustomer)
        try await store.saveIntegration(customerID: "attacker", instanceURL: victim.instanceURL, clientID: victim.clientID,
                                        sealedSecret: victim.sealedSecret, settings: IntegrationSettings())
        let copied = try #require(try await store.integration(customerID: "attacker"))
        let worker = try await stack.startWorker(roles: [.outbox])
        #expect(throws: IntegrationResolver.Unusable.self) { try worker.runtime.resolver.resolve(copied) }
        #expect(try worker.runtime.resolver.resolve(victim).integration.customerID == "cust-1")

        // A secret sealed before binding (as stored until now) opens, and is resealed bound.
        let box = try SecretBox(currentKey: TestStack.secretKey)
        let key = SymmetricKey(data: try #require(Data(base64Encoded: TestStack.secretKey)))
        let unboundBox = try AES.GCM.seal(Data("Sup3r-Secret-Value".utf8), using: key)
        try await store.saveIntegration(customerID: "cust-1", instanceURL: victim.instanceURL, clientID: victim.clientID,
                                        sealedSecret: SecretBox.Sealed(combined: Array(try #require(unboundBox.combined)), keyID: box.currentKeyID,
                                                                       boundToCustomer: false),
                                        settings: IntegrationSettings())
        let unbound = try #require(try await store.integration(customerID: "cust-1"))
        #expect(try box.open(unbound.sealedSecret, customerID: "cust-1") == "Sup3r-Secret-Value")
        #expect(try await store.resealSecrets(with: box) == 1, "only the unbound secret is resealed")
        let resealed = try #require(try await store.integration(customerID: "cust-1"))
        #expect(resealed.sealedSecret.boundToCustomer)
        #expect(try box.open(resealed.sealedSecret, customerID: "cust-1") == "Sup3r-Secret-Value")
    }
}
