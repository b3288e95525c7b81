import Foundation

/// An HTTP proxy that ServiceNow calls go through (`CONNECT` for https instances), as most
/// corporate networks require. Its password is never shown: ``description`` leaves it out.
public struct ServiceNowProxy: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?

    public init(host: String, port: Int, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// `http://[user:password@]host[:port]` (port 80 by default; `https://` proxies, which
    /// AsyncHTTPClient cannot speak to, are refused).
    public init(url: String) throws(ServiceNowError) {
        func refuse(_ reason: String) -> ServiceNowError { ServiceNowError(.urlRefused, message: "proxy: \(reason)") }
        let text = url.contains("://") ? url : "http://" + url
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              let host = components.host, !host.isEmpty else { throw refuse("not a URL with a host") }
        guard scheme == "http" else { throw refuse("only http:// proxies are supported (the tunnel to the instance is TLS)") }
        guard components.path.isEmpty || components.path == "/", components.query == nil else { throw refuse("a proxy URL has no path") }
        self.init(host: host, port: components.port ?? 80,
                  username: components.percentEncodedUser?.removingPercentEncoding,
                  password: components.percentEncodedPassword?.removingPercentEncoding)
    }

    /// `http://user@host:port`, without the password.
    public var description: String {
        "http://\(username.map { "\($0)@" } ?? "")\(host.contains(":") ? "[\(host)]" : host):\(port)"
    }
}

/// Which instances go through which proxy: `HTTPS_PROXY` for all of them except the hosts of
/// `NO_PROXY` (exact names, or suffixes written `.example.com` or `example.com`; `*` for every
/// host), as curl and most tools read them.
public struct ServiceNowProxySettings: Sendable, Hashable {
    public var proxy: ServiceNowProxy?
    public var noProxy: [String]

    public init(proxy: ServiceNowProxy? = nil, noProxy: [String] = []) {
        self.proxy = proxy
        self.noProxy = noProxy.map { $0.lowercased().trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The proxy for `host`, or nil to connect directly.
    public func proxy(for host: String) -> ServiceNowProxy? {
        guard let proxy else { return nil }
        let host = host.lowercased()
        for entry in noProxy {
            if entry == "*" { return nil }
            let suffix = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
            if host == suffix || host.hasSuffix("." + suffix) { return nil }
        }
        return proxy
    }
}

/// An integration's own choice, over the process-wide settings.
public enum ServiceNowProxyChoice: Sendable, Hashable {
    /// `HTTPS_PROXY` / `NO_PROXY`.
    case environment
    /// Straight to the instance.
    case direct
    /// Through this proxy.
    case proxy(ServiceNowProxy)
}
