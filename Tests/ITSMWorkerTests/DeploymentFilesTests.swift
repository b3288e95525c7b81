import AMQP
import Foundation
import ITSMAMQP
import ITSMWorker
import Postgres
import ServiceNow
import TestSupport
import Testing

/// Files that cannot run here (Kubernetes, Docker Compose, RabbitMQ definitions) are at least
/// parsed, and what matters in them is checked.
@Suite struct DeploymentFilesTests {
    static let root = ContractTests.packageRoot

    /// Every YAML document of a file, as JSON objects (parsed by PyYAML).
    static func yamlDocuments(_ path: String) async throws -> [[String: Any]] {
        let python = try await Subprocess.run(["python3", "-c", "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
                                               root.appendingPathComponent(path).path], errors: .discarded)
        guard python.status == 0 else { throw TestFailure("\(path) is not valid YAML") }
        return (try JSONSerialization.jsonObject(with: Data(python.output.utf8)) as? [[String: Any]] ?? []).filter { !$0.isEmpty }
    }

    @Test func theDeploymentHasProbesGraceAndRunsAsNonRoot() async throws {
        let deployment = try #require(try await Self.yamlDocuments("deploy/kubernetes/deployment.yaml").first)
        #expect(deployment["kind"] as? String == "Deployment")
        let template = try #require((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])
        let pod = try #require(template["spec"] as? [String: Any])
        #expect((pod["terminationGracePeriodSeconds"] as? Int ?? 0) >= 25)
        #expect((pod["securityContext"] as? [String: Any])?["runAsNonRoot"] as? Bool == true)
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        #expect(((container["livenessProbe"] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String == "/healthz")
        #expect(((container["readinessProbe"] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String == "/readyz")
        #expect(container["args"] as? [String] == ["run"])
    }

    @Test func theConfigMapAndSecretHoldOnlySettingsTheWorkerKnows() async throws {
        let configMap = try #require(try await Self.yamlDocuments("deploy/kubernetes/configmap.yaml").first)
        let secret = try #require(try await Self.yamlDocuments("deploy/kubernetes/secret.yaml").first)
        var environment = (configMap["data"] as? [String: String]) ?? [:]
        let secretData = (secret["stringData"] as? [String: String]) ?? [:]
        #expect(secretData["ITSM_SECRET_KEY"] != nil)
        #expect(secretData["ITSM_DATABASE_URL"] != nil)
        for key in ["ITSM_AMQP_URL", "ITSM_DATABASE_URL", "HTTPS_PROXY"] { environment[key] = secretData[key] }
        let configuration = try WorkerConfiguration(environment: environment)
        #expect(configuration.unknownSettings.isEmpty, "unknown: \(configuration.unknownSettings)")
        #expect(configuration.logFormat == .json)
        // What real deployments use: a TLS cluster list, verified TLS to PostgreSQL, a proxy.
        let amqp = try configuration.amqpConfiguration()
        #expect(amqp.endpoints.count == 3 && amqp.tls?.caFile == "/etc/itsm/tls/rabbitmq-ca.pem" && amqp.tls?.keyFile != nil)
        let database = try PostgresConfiguration(url: configuration.databaseURL)
        #expect(database.sslMode == "verify-full" && database.sslRootCertificate?.hasPrefix("/etc/itsm/tls/") == true && database.hosts.count == 2)
        #expect(configuration.serviceNowProxy.proxy?.host == "proxy.corp.example")
        #expect(configuration.serviceNowProxy.proxy(for: "itsm.svc") == nil)
        // The certificates are mounted where the settings look for them.
        let tls = try #require(try await Self.yamlDocuments("deploy/kubernetes/secret.yaml").first { ($0["metadata"] as? [String: Any])?["name"] as? String == "itsm-worker-tls" })
        let files = Set(((tls["stringData"] as? [String: String]) ?? [:]).keys.map { "/etc/itsm/tls/\($0)" })
        #expect([amqp.tls?.caFile, amqp.tls?.certificateFile, amqp.tls?.keyFile, database.sslRootCertificate].allSatisfy { $0.map(files.contains) == true })
        let deployment = try #require(try await Self.yamlDocuments("deploy/kubernetes/deployment.yaml").first)
        let pod = try #require(((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
        let mounts = ((pod["containers"] as? [[String: Any]])?.first?["volumeMounts"] as? [[String: Any]]) ?? []
        #expect(mounts.contains { $0["mountPath"] as? String == "/etc/itsm/tls" })
        // The pod's grace covers the worker's own.
        #expect(configuration.shutdownGrace < .seconds(30))
    }

    @Test func scalingAndDisruptionBudget() async throws {
        let documents = try await Self.yamlDocuments("deploy/kubernetes/keda-scaledobject.yaml")
        let scaled = try #require(documents.first { $0["kind"] as? String == "ScaledObject" })
        let trigger = try #require(((scaled["spec"] as? [String: Any])?["triggers"] as? [[String: Any]])?.first)
        #expect(trigger["type"] as? String == "rabbitmq")
        #expect((trigger["metadata"] as? [String: Any])?["queueName"] as? String == WorkerTopology(try WorkerConfiguration(environment: [:])).alertsQueue)
        let pdb = try #require(try await Self.yamlDocuments("deploy/kubernetes/pdb.yaml").first)
        #expect(pdb["kind"] as? String == "PodDisruptionBudget")
        #expect((pdb["spec"] as? [String: Any])?["minAvailable"] as? Int == 1)
    }

    @Test func composeAndRabbitMQDefinitions() async throws {
        let compose = try #require(try await Self.yamlDocuments("docker-compose.yml").first)
        let services = try #require(compose["services"] as? [String: Any])
        for name in ["rabbitmq", "postgres", "migrate", "worker", "simulator"] { #expect(services[name] != nil, "missing service \(name)") }
        let worker = try #require(services["worker"] as? [String: Any])
        #expect((worker["deploy"] as? [String: Any])?["replicas"] as? Int == 2)
        #expect((services["simulator"] as? [String: Any])?["profiles"] as? [String] == ["demo"])
        // The simulator is not in the production binary.
        #expect((services["simulator"] as? [String: Any])?["entrypoint"] as? [String] == ["/app/itsm-demo"])
        let environment = try #require(((compose["x-worker"] as? [String: Any])?["environment"]) as? [String: Any])
        for key in ["ITSM_AMQP_TLS_CA_FILE", "ITSM_AMQP_TLS_CERT_FILE", "ITSM_AMQP_TLS_KEY_FILE", "HTTPS_PROXY", "NO_PROXY"] {
            #expect(environment[key] != nil, "docker-compose.yml passes no \(key)")
        }
        let tlsCompose = try #require(try await Self.yamlDocuments("deploy/compose.tls.yml").first)
        let tlsEnvironment = try #require(((tlsCompose["x-tls"] as? [String: Any])?["environment"]) as? [String: String])
        #expect(tlsEnvironment["ITSM_AMQP_URL"]?.hasPrefix("amqps://") == true && tlsEnvironment["ITSM_AMQP_URL"]?.contains(",") == true)
        #expect(tlsEnvironment["ITSM_DATABASE_URL"]?.contains("sslmode=verify-full") == true)
        #expect((tlsCompose["secrets"] as? [String: Any])?.count == 4)
        let data = try Data(contentsOf: Self.root.appendingPathComponent("deploy/rabbitmq/definitions.json"))
        let definitions = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((definitions["exchanges"] as? [[String: Any]])?.map { $0["name"] as? String } == ["ceburu.alerts", "itsm.events"])
        #expect((definitions["policies"] as? [[String: Any]])?.isEmpty == false)
        let dockerfile = try String(contentsOf: Self.root.appendingPathComponent("deploy/Dockerfile"), encoding: .utf8)
        #expect(dockerfile.contains("--static-swift-stdlib"))
        #expect(dockerfile.contains("USER 10001"))
    }
}
