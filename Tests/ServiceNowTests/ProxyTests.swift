import Foundation
import ServiceNow
import ServiceNowSimulator
import TestSupport
import Testing

private var testProxyURL: String? { ProcessInfo.processInfo.environment["ITSM_TEST_PROXY_URL"] }
private var testTLSDirectory: String? { ProcessInfo.processInfo.environment["ITSM_TEST_TLS_DIR"] }

/// ServiceNow through an HTTP proxy (tinyproxy with basic auth, started by scripts/services.sh)
/// to an https simulator whose certificate the test CA signed: the client tunnels with CONNECT.
@Suite(.enabled(if: testProxyURL != nil && testTLSDirectory != nil, "needs tinyproxy and the test CA (scripts/test)"),
       .timeLimit(.minutes(2)))
struct ProxyTests {
    static var proxyURL: String? { testProxyURL }
    static var proxyLog: String? { ProcessInfo.processInfo.environment["ITSM_TEST_PROXY_LOG"] }
    static var tlsDirectory: String? { testTLSDirectory }

    /// An https simulator on localhost and a client that trusts the test CA and uses `proxy`.
    static func start(proxy: ServiceNowProxySettings) async throws -> SimulatedInstance {
        let directory = try #require(tlsDirectory)
        return try await SimulatedInstance.start(configure: {
            $0.tls = ("\(directory)/server.pem", "\(directory)/server-key.pem")
        }, client: {
            $0.proxy = proxy
            $0.additionalTrustRootsFile = "\(directory)/ca.pem"
        }, host: "localhost")
    }

    static func proxyLogLines(mentioning port: Int) -> [String] {
        let text = (try? String(contentsOfFile: proxyLog ?? "", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).filter { $0.contains("localhost:\(port)") }
    }

    @Test func callsTunnelThroughTheProxyWithItsCredentials() async throws {
        let proxy = try ServiceNowProxy(url: try #require(Self.proxyURL))
        let sim = try await Self.start(proxy: ServiceNowProxySettings(proxy: proxy))
        defer { Task { await sim.stop() } }
        #expect(sim.instance.scheme == "https")
        let created = try await sim.session.create(table: "incident", fields: ["short_description": "through the proxy"])
        #expect(created["number"]?.hasPrefix("INC") == true)
        let port = try #require(sim.instance.port)
        #expect(await eventually(5) { Self.proxyLogLines(mentioning: port).contains { $0.contains("CONNECT localhost:\(port)") } },
                "the proxy saw no CONNECT to the instance")
        #expect(!sim.logs.all.contains { $0.contains("proxy-secret") })
    }

    @Test func noProxyHostsGoDirect() async throws {
        let proxy = try ServiceNowProxy(url: try #require(Self.proxyURL))
        let sim = try await Self.start(proxy: ServiceNowProxySettings(proxy: proxy, noProxy: [".example.com", "localhost"]))
        defer { Task { await sim.stop() } }
        #expect(sim.session.proxy == nil)
        _ = try await sim.session.create(table: "incident", fields: ["short_description": "direct"])
        #expect(Self.proxyLogLines(mentioning: try #require(sim.instance.port)).isEmpty)
    }

    @Test func aProxyThatIsDownIsNamedWithoutItsPassword() async throws {
        let down = ServiceNowProxy(host: "127.0.0.1", port: 1, username: "itsm", password: "proxy-secret")
        let sim = try await Self.start(proxy: ServiceNowProxySettings(proxy: down))
        defer { Task { await sim.stop() } }
        do {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "x"])
            Issue.record("a request went through a proxy that is down")
        } catch {
            #expect(error.kind == .unreachable)
            #expect(error.description.contains("through the proxy http://itsm@127.0.0.1:1"), "\(error)")
            #expect(!error.description.contains("proxy-secret"))
        }
    }

    @Test func wrongProxyCredentialsAreNamed() async throws {
        var proxy = try ServiceNowProxy(url: try #require(Self.proxyURL))
        proxy.password = "not-the-password"
        let sim = try await Self.start(proxy: ServiceNowProxySettings(proxy: proxy))
        defer { Task { await sim.stop() } }
        do {
            _ = try await sim.session.create(table: "incident", fields: ["short_description": "x"])
            Issue.record("the proxy let wrong credentials through")
        } catch {
            #expect(error.description.contains("through the proxy http://itsm@127.0.0.1"), "\(error)")
            #expect(error.description.contains("refused the worker's credentials") || error.description.contains("refused to open a tunnel"), "\(error)")
            #expect(!error.description.contains("not-the-password"))
        }
    }

    @Test func proxySettingsParseAndRedact() throws {
        let proxy = try ServiceNowProxy(url: "http://us%40er:p%40ss@proxy.corp:3128")
        #expect(proxy.username == "us@er" && proxy.password == "p@ss" && proxy.port == 3128)
        #expect(proxy.description == "http://us@er@proxy.corp:3128")
        #expect(try ServiceNowProxy(url: "proxy.corp:8080").host == "proxy.corp")
        #expect(throws: ServiceNowError.self) { try ServiceNowProxy(url: "https://proxy.corp:443") }
        let settings = ServiceNowProxySettings(proxy: proxy, noProxy: [".service-now.com", "internal.example"])
        #expect(settings.proxy(for: "acme.service-now.com") == nil)
        #expect(settings.proxy(for: "sub.internal.example") == nil)
        #expect(settings.proxy(for: "acme.servicenowservices.com") == proxy)
        #expect(ServiceNowProxySettings(proxy: proxy, noProxy: ["*"]).proxy(for: "anything") == nil)
    }
}
