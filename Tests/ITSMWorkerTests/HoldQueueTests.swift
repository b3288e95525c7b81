import AMQP
import Foundation
import ITSMAMQP
import ITSMCore
import ITSMWorker
import ServiceNowSimulator
import TestSupport
import Testing

/// A busy instance's overflow waits in its hold queue, once, while other customers' alerts flow.
@Suite(.stopsTestStacks, .timeLimit(.minutes(3)))
struct HoldQueueTests {
    @Test func aBusyInstancesOverflowWaitsInItsHoldQueueWhileOthersFlow() async throws {
        let stack = try await TestStack.make(simulators: 2, configureSimulator: { $0.baseLatency = .milliseconds(100) }, configure: {
            $0.instanceConcurrency = 1
            $0.instanceMaxInFlight = 1
        })
        try await stack.addIntegration(customer: "busy", simulator: 0)
        try await stack.addIntegration(customer: "other", simulator: 1)
        try await stack.addMapping(customer: "busy", network: "net-1")
        try await stack.addMapping(customer: "other", network: "net-1")
        let worker = try await stack.startWorker()
        for n in 0..<40 { try await stack.publishRaised(customer: "busy", alertID: "b\(n)") }
        for n in 0..<3 { try await stack.publishRaised(customer: "other", alertID: "o\(n)") }
        // The other customer's alerts do not wait for the busy instance's backlog.
        #expect(await stack.eventually(20) { await stack.incidents(simulator: 1).count == 3 })
        let busyDoneMeanwhile = await stack.incidents(simulator: 0).count
        #expect(busyDoneMeanwhile < 40, "the busy instance's backlog was already done: the test shows nothing")
        // One permit, and a waiting room of what the instance does in 2 s: the rest moved to the
        // hold queue, once each.
        let held = worker.runtime.metrics.render().split(separator: "\n").filter { $0.contains("outcome=\"held\"") }
        #expect(!held.isEmpty, "no message was held")
        let holdQueue = stack.topology.holdQueue(instance: stack.simulatorURLs[0]).name
        #expect(worker.runtime.holdQueuesConsumed.contains(holdQueue))
        #expect(await stack.eventually(30) { await stack.incidents(simulator: 0).count == 40 })
        let correlations = await stack.incidents(simulator: 0).map { $0["correlation_display"] ?? "" }
        #expect(Set(correlations).count == 40, "each held alert got exactly one incident")
        #expect(stack.counter(worker, "itsm_retries_total") == 0, "waiting for a busy instance is not a retry")
        #expect(stack.counter(worker, "itsm_parked_total") == 0)
    }

    @Test func aHoldQueueTheBrokerRefusesLeavesTheOverflowToTheRetryQueues() async throws {
        let stack = try await TestStack.make(configureSimulator: { $0.baseLatency = .milliseconds(100) }, configure: {
            $0.instanceConcurrency = 1
            $0.instanceMaxInFlight = 1
        })
        try await stack.addIntegration(customer: "busy")
        try await stack.addMapping(customer: "busy", network: "net-1")
        // Another version left the hold queue with other arguments: declaring it is refused (406).
        var other = stack.topology
        other.holdMessageTTL = .seconds(5)
        try await stack.publisher.declare(other.holdQueue(instance: stack.simulatorURLs[0]))
        let worker = try await stack.startWorker()
        for n in 0..<40 { try await stack.publishRaised(customer: "busy", alertID: "b\(n)") }
        #expect(await stack.eventually(60) { await stack.incidents().count == 40 })
        let correlations = await stack.incidents().map { $0["correlation_display"] ?? "" }
        #expect(Set(correlations).count == 40, "each alert got exactly one incident")
        #expect(stack.counter(worker, "itsm_parked_total") > 0, "the overflow went to the retry queues")
        #expect(worker.runtime.holdQueuesConsumed.isEmpty)
        // Tried once, not at every overflow: each refusal closes the channel.
        #expect(stack.logs.all.filter { $0.contains("could not declare a busy instance's hold queue") }.count == 1)
        try await stack.publisher.deleteQueue(other.holdQueue(instance: stack.simulatorURLs[0]).name)
    }

    @Test func aHeldMessageKeepsItsAttemptsAndItsRoutingKeyWhereverItIsPublishedFrom() async throws {
        let stack = try await TestStack.make()
        let worker = try await stack.startWorker()
        let processor = worker.runtime.processor
        let hold = stack.topology.holdQueue(instance: "https://acme.service-now.com").name
        #expect(hold == "\(stack.topology.alertsQueue.dropLast("alerts".count))hold.acme.service-now.com")
        let headers: [String: AMQPFieldValue] = ["itsm-attempt": .int(3), "itsm-routing-key": .string("alert.raised")]
        func delivery(exchange: String, routingKey: String) -> AMQPDelivery {
            AMQPDelivery(body: [], exchange: exchange, routingKey: routingKey, properties: AMQPProperties(headers: headers), connection: stack.publisher)
        }
        // From a hold queue (the default exchange, the queue's name as routing key): the worker put it there.
        let held = delivery(exchange: "", routingKey: hold)
        #expect(processor.attempt(of: held) == 3)
        #expect(processor.routingKey(of: held) == "alert.raised")
        // Back from a retry queue: the same.
        #expect(processor.attempt(of: delivery(exchange: stack.topology.returnExchange, routingKey: "x")) == 3)
        // Published by anyone else, to the work queue or another queue: the headers are not believed.
        let fresh = delivery(exchange: stack.topology.alertsExchange, routingKey: "alert.raised")
        #expect(processor.attempt(of: fresh) == 1)
        #expect(processor.attempt(of: delivery(exchange: "", routingKey: stack.topology.alertsQueue)) == 1)
        #expect(processor.routingKey(of: delivery(exchange: "", routingKey: "elsewhere")) == "elsewhere")
    }
}
