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
    ])
    func refuses(_ url: String) {
        #expect(throws: ServiceNowError.self) { try strict.validate(url) }
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
