import AMQP
import Foundation
import ITSMCore
@testable import ITSMWorker
import Logging
import TestSupport
import Testing

/// The node list of scripts/cluster.sh's cluster.
private var clusterURLs: String? { ProcessInfo.processInfo.environment["ITSM_TEST_CLUSTER_URLS"] }

/// Two workers on a real three-node RabbitMQ cluster (scripts/cluster.sh, started by
/// scripts/test's cluster stage) while a publisher on another node sends a steady stream of
/// alerts; the node one worker is connected to is killed with SIGKILL. Work goes on without it,
/// no alert, incident or event is lost or doubled, and the node comes back and rejoins.
@Suite(.serialized, .stopsTestStacks, .enabled(if: clusterURLs != nil, "set ITSM_TEST_CLUSTER_URLS (scripts/test's cluster stage does)"),
       .timeLimit(.minutes(10)))
struct ClusterFailoverTests {
    static var urls: String? { clusterURLs }
    static let nodes = ["a", "b", "c"]
    static let alerts = 150
    static let killAfter = 50

    @Test func workersMoveToAnotherNodeWhenTheirNodeIsKilled() async throws {
        let urls = try #require(Self.urls)
        let stack = try await TestStack.make(simulators: 2, durableEvents: true, eventQueue: .quorum, configure: {
            $0.amqpURL = urls
            $0.queueType = .quorum
        })
        for (index, customer) in ["cust-1", "cust-2"].enumerated() {
            try await stack.addIntegration(customer: customer, simulator: index)
            try await stack.addMapping(customer: customer, network: "net-1")
        }
        let first = try await stack.startWorker(name: "w1")
        _ = try await stack.startWorker(name: "w2")
        let endpoints = try AMQPConfiguration(url: urls).endpoints
        let victim = try #require(first.runtime.amqp.currentNode)
        let victimIndex = try #require(endpoints.firstIndex(of: victim))
        let victimNode = Self.nodes[victimIndex]

        // The publisher sits on another node, as upstream monitoring would.
        var publisherConfiguration = try AMQPConfiguration(url: urls)
        publisherConfiguration.firstEndpoint = (victimIndex + 1) % endpoints.count
        let publisher = try await AMQPConnection.connect(publisherConfiguration, logger: Logger(label: "cluster-publisher"))
        defer { Task { await publisher.close() } }

        var killedAt: Date?
        var moved: Task<Date?, Never>?
        var alertIDs: [String] = []
        for n in 0..<Self.alerts {
            if n == Self.killAfter {
                let pid = try await Subprocess.run(["bash", "scripts/cluster.sh", "pid", victimNode], errors: .discarded).output
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                killedAt = Date()
                try await FaultInjections.run(["kill", "-9", pid])
                // When worker w1 is connected to another node.
                moved = Task {
                    await eventually(30) { first.runtime.amqp.isConnected && first.runtime.amqp.currentNode != victim } ? Date() : nil
                }
                print("cluster: killed itsm-\(victimNode) (pid \(pid)), the node of worker w1, after \(n) alerts")
            }
            let alertID = "trg-cluster-\(n)-\(UUID().uuidString.prefix(4))"
            try await stack.publishRaised(customer: n % 2 == 0 ? "cust-1" : "cust-2", alertID: alertID, via: publisher)
            alertIDs.append(alertID)
            try await Task.sleep(for: .milliseconds(60))
        }
        let killed = try #require(killedAt)

        // The killed worker is on another node.
        let movedAt = await moved?.value
        #expect(movedAt != nil, "worker w1 did not connect to another node within 30 s")
        let reconnectedAfter = movedAt.map { $0.timeIntervalSince(killed) } ?? .infinity

        #expect(await stack.eventually(120) { alertIDs.allSatisfy { !stack.events.forAlert($0, type: "ticket.created").isEmpty } })
        let created = stack.events.ofType("ticket.created")
        let times = created.compactMap { ($0["ticket"] as? [String: Any]) != nil ? ($0["occurred_at"] as? String).flatMap(AlertEvent.parseTimestamp) : nil }.sorted()
        // The longest pause in ticket creation from the kill on: how long work stopped.
        let afterKill = [killed] + times.filter { $0 > killed }
        let gap = zip(afterKill, afterKill.dropFirst()).map { $1.timeIntervalSince($0) }.max() ?? .infinity
        var incidents: [[String: String]] = []
        for index in 0..<2 { incidents += await stack.incidents(simulator: index) }
        let byCorrelation = Dictionary(grouping: incidents, by: { $0["correlation_id"] ?? "" })
        let lost = alertIDs.filter { stack.events.forAlert($0, type: "ticket.created").isEmpty }.count
        let duplicates = byCorrelation.values.filter { $0.count > 1 }.count
        print("""
            cluster failover: \(Self.alerts) alerts, node itsm-\(victimNode) killed after \(Self.killAfter)
              longest pause in ticket creation after the kill: \(String(format: "%.2f", gap)) s
              worker w1 connected to another node after \(String(format: "%.2f", reconnectedAfter)) s (\(first.runtime.amqp.currentNode.map(String.init(describing:)) ?? "?"))
              incidents: \(incidents.count); alerts without a ticket.created event: \(lost); duplicate incidents: \(duplicates)
            """)
        #expect(gap < 10, "work stopped for \(gap) s")
        #expect(reconnectedAfter < 10)
        #expect(lost == 0)
        #expect(duplicates == 0)
        #expect(incidents.count == Self.alerts)
        #expect(stack.events.ofType("ticket.failed").isEmpty)

        // The node comes back and rejoins the cluster.
        try await FaultInjections.run(["bash", "scripts/cluster.sh", "start", victimNode])
        let status = try await Subprocess.run(["bash", "scripts/cluster.sh", "status"]).output
        let running = status.components(separatedBy: "Running Nodes").last?.components(separatedBy: "Versions").first ?? ""
        #expect(Self.nodes.allSatisfy { running.contains("itsm-\($0)@localhost") }, "\(status)")
    }
}
