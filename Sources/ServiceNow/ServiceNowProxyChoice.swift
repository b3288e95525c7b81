import Foundation

/// An integration's own choice, over the process-wide settings.
public enum ServiceNowProxyChoice: Sendable, Hashable {
    /// `HTTPS_PROXY` / `NO_PROXY`.
    case environment
    /// Straight to the instance.
    case direct
    /// Through this proxy.
    case proxy(ServiceNowProxy)
}
