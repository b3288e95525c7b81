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
