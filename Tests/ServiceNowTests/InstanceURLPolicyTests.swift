import Foundation
import PropertyBased
@testable import ServiceNow
import Testing

@Suite struct InstanceURLPolicyTests {
    let strict = InstanceURLPolicy()
    let withAllowlist = InstanceURLPolicy(allowedHostSuffixes: ["servicenowservices.com"])
    let insecure = InstanceURLPolicy(allowInsecure: true)

    @Test func acceptsInstancesUnderServiceNow() throws {
        let url = try strict.validate("https://acme.service-now.com/")
        #expect(url.description == "https://acme.service-now.com")
        #expect(url.recordLink(table: "incident", sysID: "abc") == "https://acme.service-now.com/nav_to.do?uri=incident.do?sys_id=abc")
        #expect(try strict.validate("HTTPS://Acme.Service-Now.com").host == "acme.service-now.com")
        #expect(try withAllowlist.validate("https://agency.servicenowservices.com").host == "agency.servicenowservices.com")
    }

    @Test(arguments: [
        "http://acme.service-now.com",              // not https
        "https://acme.service-now.com.evil.example", // suffix trick
        "https://evilservice-now.com",              // not a subdomain
        "https://example.com",                      // not allowed
        "https://10.0.0.5",                         // private
        "https://192.168.1.10",                     // private
        "https://172.20.0.1",                       // private
        "https://169.254.169.254",                  // metadata
        "https://metadata.google.internal",         // metadata
        "https://127.0.0.1:8443",                   // loopback without the insecure switch
        "http://localhost:8080",                    // loopback without the insecure switch
        "https://user:pw@acme.service-now.com",     // credentials in the URL
        "https://acme.service-now.com/api/now",     // not the root
        "ftp://acme.service-now.com",
        "not a url",
        // Spellings a decoding parser turns into another host.
        "https://evil.example%2F.service-now.com",
        "https://evil.example%252F.service-now.com",
        "https://localhost%252F.service-now.com",
        "https://evil.example%23.service-now.com",
        "https://evil.example%3F.service-now.com",
        "https://evil.example%00.service-now.com",
        "https://evil.example\u{0}.service-now.com",
        "https://evil.example\\.service-now.com",
        "https://acme.service-now.com@evil.example",
        "https://evil.example#.service-now.com",
        "https://evil.example?.service-now.com",
        "https://evil.example/.service-now.com",
        // Numeric and literal hosts.
        "https://2130706433",
        "https://0x7f000001",
        "https://0177.0.0.1",
        "https://127.1",
        "https://[::1]",
        "https://[::ffff:127.0.0.1]",
        "https://[::ffff:a9fe:a9fe]",
        "https://1.2.3.4",
        // International names must arrive in their xn-- form.
        "https://acme.sérvice-now.com",
        "https://acme.service-now.com:8443",
        "https://acme.service-now.com:0",
        "https://acme.service-now.com:99999",
        "https://-acme.service-now.com",
        "https://acme..service-now.com",
    ])
    func refuses(_ url: String) {
        #expect(throws: ServiceNowError.self) { try strict.validate(url) }
    }

    @Test func theStoredFormIsCanonical() throws {
        #expect(try strict.validate("  HTTPS://ACME.Service-Now.COM.:443/ ").description == "https://acme.service-now.com")
        #expect(try strict.validate("https://xn--acm-9la.service-now.com").host == "xn--acm-9la.service-now.com")
        let ported = InstanceURLPolicy(allowedPorts: [8443])
        #expect(try ported.validate("https://acme.service-now.com:8443").description == "https://acme.service-now.com:8443")
        #expect(throws: ServiceNowError.self) { try ported.validate("https://acme.service-now.com:8444") }
        #expect(try insecure.validate("http://[::1]:8080").description == "http://[::1]:8080")
        #expect(throws: ServiceNowError.self) { try insecure.validate("http://2130706433:8080") }
        #expect(throws: ServiceNowError.self) { try insecure.validate("http://[::ffff:127.0.0.1]:8080") }
        // An allowlist entry that is not a plain suffix is dropped, not half-honoured.
        #expect(InstanceURLPolicy(allowedHostSuffixes: ["*.example.com", "Gov.Example.", "%2f"]).allowedHostSuffixes == ["gov.example"])
    }

    /// Whatever the policy accepts, however the input was built, names a host that is exactly an
    /// allowed suffix or ends in `.` + one, and survives being rebuilt from its parts.
    @Test func acceptsOnlyHostsUnderAnAllowedSuffix() async {
        let fragments = ["https://", "http://", "HTTPS://", "acme", "evil", "example", ".", "..", "-", "service-now.com",
                         "servicenowservices.com", "gov.example", "%2F", "%252F", "%23", "%3F", "%00", "%2e", "@", ":", ":443", ":8443",
                         "/", "\\", "#", "?", "[", "]", "::1", "::ffff:", "127.0.0.1", "0x7f000001", "2130706433", "localhost",
                         "\u{0}", "\t", " ", "é", "xn--", "user:pw", "%", "0", "1", "_"]
        let policies = [strict, withAllowlist, InstanceURLPolicy(allowedHostSuffixes: ["gov.example"], allowedPorts: [8443])]
        let input = Gen.element(of: fragments).array(of: 1...9).map { $0.compactMap { $0 }.joined() }
        await propertyCheck(count: 5_000, input: input) { text in
            for policy in policies {
                guard let url = try? policy.validate(text) else { continue }
                #expect(url.scheme == "https", "\(text)")
                #expect(policy.suffixes.contains { url.host == $0 || url.host.hasSuffix("." + $0) }, "\(text) → \(url.host)")
                #expect(url.host.utf8.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d || $0 == 0x2e }, "\(text)")
                #expect((try? policy.validate(url.description)) == url, "\(text)")
                #expect(URLComponents(string: url.description)?.host == url.host, "\(text)")
            }
        }
    }

    @Test func insecureAllowsHTTPOnLoopbackOnly() throws {
        #expect(try insecure.validate("http://127.0.0.1:8080").port == 8080)
        #expect(try insecure.validate("http://localhost:9000").host == "localhost")
        #expect(throws: ServiceNowError.self) { try insecure.validate("http://acme.service-now.com") }
        #expect(throws: ServiceNowError.self) { try insecure.validate("http://10.1.2.3") }
        #expect(throws: ServiceNowError.self) { try insecure.validate("https://169.254.169.254") }
    }
}

@Suite struct LinkHeaderTests {
    @Test func findsTheNextOffsetEvenWithCommasInURLs() {
        let header = #"<https://x/api/now/table/incident?sysparm_query=sys_idINa,b&sysparm_offset=0>;rel="first",<https://x/api/now/table/incident?sysparm_query=sys_idINa,b&sysparm_offset=-2>;rel="prev",<https://x/api/now/table/incident?sysparm_query=sys_idINa,b&sysparm_offset=2>;rel="next",<https://x/api/now/table/incident?sysparm_offset=4>;rel="last""#
        #expect(ServiceNowSession.nextOffset(linkHeader: header) == 2)
        #expect(ServiceNowSession.nextOffset(linkHeader: #"<https://x/t?sysparm_offset=0>;rel="first",<https://x/t?sysparm_offset=0>;rel="last""#) == nil)
        #expect(ServiceNowSession.nextOffset(linkHeader: "") == nil)
    }
}
