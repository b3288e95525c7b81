import Foundation
import ITSMCore
import ITSMPostgres
import ServiceNow

/// Test Connection: the checks an operator needs when rolling out an integration, each turned
/// into a cause and a remedy.
public struct ConnectionTester: Sendable {
    let resolver: IntegrationResolver
    let addressLookup: AddressLookup

    public init(resolver: IntegrationResolver, addressLookup: AddressLookup = .system) {
        self.resolver = resolver
        self.addressLookup = addressLookup
    }

    static let credentialRemedy = """
        Verify client_id and client_secret (integration set). In ServiceNow: the OAuth application must be active; \
        the client-credentials grant must be enabled (system property glide.oauth.inbound.client.credential.grant_type.enabled = true, \
        Default Grant Type = Client Credentials); and the application needs an OAuth Application User.
        """

    public func test(_ integration: StoredIntegration) async -> ConnectionTestResult {
        var checks: [ConnectionCheck] = []
        func run(_ name: String, _ body: () async -> (ConnectionCheck.Status, String?, String?)) async -> ConnectionCheck.Status {
            let started = ContinuousClock.now
            let (status, cause, remedy) = await body()
            let elapsed = ContinuousClock.now - started
            checks.append(ConnectionCheck(name: name, status: status, durationMs: Int(elapsed.milliseconds),
                                          cause: cause, remedy: remedy))
            return status
        }
        func skip(_ names: [String], because reason: String) {
            for name in names { checks.append(ConnectionCheck(name: name, status: .skipped, durationMs: 0, cause: reason, remedy: nil)) }
        }
        let later = ["reachability", "token", "table_access", "metadata"]

        // 1. The URL policy.
        var instance: InstanceURL?
        let policy = await run("url_policy") {
            do throws(ServiceNowError) {
                instance = try resolver.policy.validate(integration.instanceURL)
                return (.ok, nil, nil)
            } catch {
                return (.failed, error.message ?? "the instance URL is refused",
                        "Use the instance's https URL under service-now.com, or add its host to ITSM_INSTANCE_HOST_ALLOWLIST.")
            }
        }
        guard policy == .ok, let instance else {
            skip(later, because: "the instance URL is refused")
            return finish(integration, checks)
        }
        let resolved: IntegrationResolver.Resolved
        do {
            resolved = try resolver.resolve(integration)
        } catch {
            checks.append(ConnectionCheck(name: "secret", status: .failed, durationMs: 0, cause: error.message,
                                          remedy: "Set ITSM_SECRET_KEY (or list the old key in ITSM_SECRET_KEY_PREVIOUS), or store the secret again with integration set."))
            skip(later, because: "the client secret cannot be read")
            return finish(integration, checks)
        }
        let session = resolved.session

        // 2. DNS, TCP, TLS, and an instance that answers with JSON.
        let reachable = await run("reachability") {
            // Names the refused address up front; every connection checks its peer again, since
            // DNS may answer differently by then.
            // Through a proxy, the proxy resolves the name and reaches the instance.
            if session.proxy == nil,
               let refusal = await Self.addressRefusal(host: instance.host, lookup: addressLookup, policy: resolver.client.configuration.addressPolicy) {
                return (.failed, refusal, "Instances are reached over the internet; a private address means a wrong URL or DNS entry.")
            }
            do throws(ServiceNowError) {
                try await session.probe()
                return (.ok, nil, nil)
            } catch {
                switch error.kind {
                case .hibernating:
                    return (.failed, "the instance answers with an HTML page instead of JSON: it is hibernating, being upgraded, or unavailable",
                            "Wake the instance (developer instances hibernate when unused) or wait for the upgrade, then test again.")
                case .tls:
                    return (.failed, "TLS failed: \(error.message ?? "")", "Check the instance URL and that its certificate is valid for that host.")
                case .timeout:
                    return (.failed, "no answer within the request timeout\(session.proxy.map { " (through the proxy \($0))" } ?? "")",
                            "Check network access from the worker to the instance (proxies, firewalls).")
                default:
                    return (.failed, "cannot reach the instance: \(error.message ?? error.description)",
                            session.proxy == nil ? "Check the instance URL, DNS and network access from the worker to the instance."
                                : "Check that the proxy \(session.proxy!) runs and lets the worker through to the instance (HTTPS_PROXY, NO_PROXY, or the integration's --proxy).")
                }
            }
        }
        guard reachable == .ok else {
            skip(["token", "table_access", "metadata"], because: "the instance is not reachable")
            return finish(integration, checks)
        }

        // 3. Client credentials.
        let token = await run("token") {
            do throws(ServiceNowError) {
                _ = try await session.requestToken()
                return (.ok, nil, nil)
            } catch {
                if error.kind == .tokenRejected {
                    if error.message == "unauthorized_client" {
                        return (.failed, "ServiceNow answered unauthorized_client: the OAuth application has no OAuth Application User",
                                "Set an OAuth Application User on the OAuth application (its roles decide what the worker may do).")
                    }
                    return (.failed, "ServiceNow refused the client credentials (\(error.detail ?? error.message ?? "access_denied")). It gives the same answer for a wrong secret, an unknown client, an inactive application and a disabled grant.",
                            Self.credentialRemedy)
                }
                return (.failed, error.description, error.isRetryable ? "A passing failure: test again shortly." : nil)
            }
        }
        guard token == .ok else {
            skip(["table_access", "metadata"], because: "no token")
            return finish(integration, checks)
        }

        // 4. Reading incidents, and the right to create and update them.
        _ = await run("table_access") {
            do throws(ServiceNowError) {
                let page = try await session.queryPage(table: "incident", ServiceNowQuery("ORDERBYsys_created_on", fields: ["sys_id"], pageSize: 1))
                var notes: [String] = []
                if page.records.isEmpty {
                    notes.append("no incident was readable (an empty table, or read ACLs hide them; the sync needs to read the incidents the worker created)")
                }
                // Only ws_access says whether the table takes REST calls at all. Its
                // create_access / update_access flags govern other application scopes' scripts
                // and are commonly false on instances where the Table API works; the rights
                // themselves are proven by the calls' answers below. A user who may not read
                // sys_db_object is no failure.
                if let table = try? await session.queryPage(table: "sys_db_object", ServiceNowQuery(
                    "name=incident", fields: ["name", "ws_access"], pageSize: 1)).records.first, table["ws_access"] == "false" {
                    return (.failed, "the incident table does not allow access through web services (ws_access is false)",
                            "Tick 'Allow access to this table via web services' in the incident table's Application Access settings.")
                }
                // An update of a record that cannot exist: an ACL that forbids updates answers
                // 403 before looking the record up; otherwise 404. Nothing is written.
                do throws(ServiceNowError) {
                    _ = try await session.update(table: "incident", sysID: String(repeating: "0", count: 32), fields: [:])
                } catch where error.kind == .forbidden {
                    return (.failed, "ServiceNow refused an update of incidents: \(error.detail ?? error.message ?? "ACL")",
                            "Give the OAuth Application User a role that may update incidents (usually itil).")
                } catch where error.kind == .notFound {
                    // Expected.
                }
                return notes.isEmpty ? (.ok, nil, nil) : (.warning, notes.joined(separator: "; "), "Check the read ACLs of the OAuth Application User on incident.")
            } catch {
                if error.kind == .forbidden {
                    return (.failed, "ServiceNow refused reading incidents: \(error.detail ?? error.message ?? "ACL")",
                            "Give the OAuth Application User read, create and update access to incident (usually the itil role).")
                }
                return (.failed, error.description, error.isRetryable ? "A passing failure: test again shortly." : nil)
            }
        }

        // 5. Metadata used to build and validate mappings; a least-privilege user may lack it.
        _ = await run("metadata") {
            var unreadable: [String] = []
            for (table, query) in [("sys_db_object", "name=incident"), ("sys_dictionary", "name=incident^ORname=task"), ("sys_choice", "name=incident")] {
                let page = try? await session.queryPage(table: table, ServiceNowQuery(query, fields: ["sys_id"], pageSize: 1))
                if page?.records.isEmpty ?? true { unreadable.append(table) }
            }
            if !unreadable.isEmpty {
                return (.warning, "\(unreadable.joined(separator: ", ")) not readable: mapping validation and field listing will be limited",
                        "Grant the OAuth Application User read access to \(unreadable.joined(separator: ", ")) (e.g. the personalize_dictionary role), or accept unvalidated mappings.")
            }
            let codes = (try? await session.choices(table: "incident", field: "close_code").map(\.value)) ?? []
            if !codes.isEmpty && !codes.contains(resolved.integration.settings.closeCode) {
                return (.failed, "the configured close code '\(resolved.integration.settings.closeCode)' is not a close_code choice on this instance, so resolving would be refused",
                        "Set one of: \(codes.joined(separator: ", ")) (integration set --close-code).")
            }
            return (.ok, nil, nil)
        }
        return finish(integration, checks)
    }

    private func finish(_ integration: StoredIntegration, _ checks: [ConnectionCheck]) -> ConnectionTestResult {
        ConnectionTestResult(customerID: integration.customerID, instanceURL: integration.instanceURL,
                             status: checks.contains { $0.status == .failed } ? "failed" : "ok",
                             testedAt: AlertEvent.formatTimestamp(Date()), checks: checks)
    }

    /// Why the host's addresses may not be called (private, loopback, link-local, metadata …),
    /// or nil when every address it resolves to is allowed.
    static func addressRefusal(host: String, lookup: AddressLookup, policy: ConnectAddressPolicy) async -> String? {
        guard let addresses = await lookup.addresses(host), !addresses.isEmpty else { return "DNS cannot resolve \(host)" }
        for address in addresses {
            if let reason = policy.refusal(address) { return "\(host) resolves to \(address): \(reason)" }
        }
        return nil
    }
}
