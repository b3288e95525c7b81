import ITSMCore
import ServiceNow


extension IntegrationSettings {
    /// The route ``proxy`` asks for.
    public var proxyChoice: ServiceNowProxyChoice {
        get throws(ServiceNowError) {
            guard let proxy else { return .environment }
            if proxy == "none" { return .direct }
            return .proxy(try ServiceNowProxy(url: proxy))
        }
    }
}
