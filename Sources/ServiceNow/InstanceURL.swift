import Foundation

/// A ServiceNow instance's base URL that passed the ``InstanceURLPolicy``, normalized to
/// `scheme://host[:port]` without a trailing slash.
public struct InstanceURL: Sendable, Hashable, CustomStringConvertible {
    public let scheme: String
    public let host: String
    public let port: Int?

    public var description: String {
        "\(scheme)://\(host.contains(":") ? "[\(host)]" : host)\(port.map { ":\($0)" } ?? "")"
    }

    /// A key naming the instance in limits, caches and metrics.
    public var key: String { description }

    /// The link an operator opens for a record: `…/nav_to.do?uri=incident.do?sys_id=…`.
    public func recordLink(table: String, sysID: String) -> String {
        "\(description)/nav_to.do?uri=\(table).do?sys_id=\(sysID)"
    }
}

/// Which instance URLs the worker may call: `https` only, on a host under `service-now.com` or an
/// operator's allowlist; never a private, link-local or cloud-metadata address. `http` and
/// loopback are allowed only with ``allowInsecure`` (the simulator).
public struct InstanceURLPolicy: Sendable {
    public var allowInsecure: Bool
    /// Extra host suffixes, such as `servicenowservices.com` for government instances.
    public var allowedHostSuffixes: [String]

    public init(allowInsecure: Bool = false, allowedHostSuffixes: [String] = []) {
        self.allowInsecure = allowInsecure
        self.allowedHostSuffixes = allowedHostSuffixes.map { $0.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: ".")) }
    }

    public func validate(_ text: String) throws(ServiceNowError) -> InstanceURL {
        func refuse(_ reason: String) -> ServiceNowError { ServiceNowError(.urlRefused, message: reason) }
        guard let components = URLComponents(string: text.trimmingCharacters(in: .whitespaces)),
              let scheme = components.scheme?.lowercased(), let rawHost = components.host, !rawHost.isEmpty
        else { throw refuse("not a URL with a scheme and host") }
        guard components.user == nil && components.password == nil else {
            throw refuse("credentials do not belong in the instance URL")
        }
        guard components.query == nil && components.fragment == nil && (components.path.isEmpty || components.path == "/") else {
            throw refuse("the instance URL is the instance's root, e.g. https://acme.service-now.com")
        }
        let host = rawHost.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let loopback = Self.isLoopback(host)
        switch scheme {
        case "https": break
        case "http":
            guard allowInsecure && loopback else {
                throw refuse("only https is allowed (http only on loopback with ITSM_ALLOW_INSECURE_INSTANCE_URLS=true)")
            }
        default:
            throw refuse("scheme \(scheme) is not allowed; use https")
        }
        if loopback {
            guard allowInsecure else { throw refuse("loopback addresses are allowed only with ITSM_ALLOW_INSECURE_INSTANCE_URLS=true") }
        } else {
            if let reason = Self.forbiddenAddressReason(host) { throw refuse(reason) }
            let suffixes = ["service-now.com"] + allowedHostSuffixes
            guard suffixes.contains(where: { host == $0 || host.hasSuffix("." + $0) }) else {
                throw refuse("host \(host) is not under service-now.com or the allowlist (ITSM_INSTANCE_HOST_ALLOWLIST)")
            }
        }
        return InstanceURL(scheme: scheme, host: host, port: components.port)
    }

    /// Why an IP address may never be called (private, link-local, metadata, not unicast).
    public static func addressRefusal(_ address: String) -> String? {
        forbiddenAddressReason(address)
    }

    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host.hasSuffix(".localhost") || host == "::1" { return true }
        if let octets = ipv4(host) { return octets[0] == 127 }
        return false
    }

    /// Why an address (an IP literal or a well-known metadata name) may never be called.
    static func forbiddenAddressReason(_ host: String) -> String? {
        if ["metadata.google.internal", "metadata", "instance-data"].contains(host) || host.hasSuffix(".internal") {
            return "\(host) is a cloud metadata or internal name"
        }
        if let o = ipv4(host) {
            if o[0] == 10 || (o[0] == 172 && (16...31).contains(o[1])) || (o[0] == 192 && o[1] == 168) {
                return "\(host) is a private address"
            }
            if o[0] == 169 && o[1] == 254 { return "\(host) is a link-local (metadata) address" }
            if o[0] == 100 && (64...127).contains(o[1]) { return "\(host) is a shared (carrier-grade NAT) address" }
            if o[0] == 0 || o[0] >= 224 { return "\(host) is not a unicast address" }
            return nil
        }
        if host.contains(":") {
            let lower = host.lowercased()
            if lower.hasPrefix("fe8") || lower.hasPrefix("fe9") || lower.hasPrefix("fea") || lower.hasPrefix("feb") {
                return "\(host) is a link-local address"
            }
            if lower.hasPrefix("fc") || lower.hasPrefix("fd") { return "\(host) is a private (unique local) address" }
            if lower == "::" || lower.hasPrefix("::ffff:") { return "\(host) is not allowed" }
        }
        return nil
    }

    static func ipv4(_ host: String) -> [Int]? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let octets = parts.compactMap { Int($0) }
        guard octets.count == 4, octets.allSatisfy({ (0...255).contains($0) }) else { return nil }
        return octets
    }
}
