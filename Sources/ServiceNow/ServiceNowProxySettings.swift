import Foundation

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
