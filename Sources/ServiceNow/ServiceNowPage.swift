import Foundation

/// One page of a Table API query.
public struct ServiceNowPage: Sendable {
    public let records: [ServiceNowRecord]
    /// `X-Total-Count`: rows matching before row-level ACLs, so a page may be short while more
    /// exist.
    public let totalCount: Int?
    /// The offset of the next page from the `Link` header, or `nil` on the last page.
    public let nextOffset: Int?
}
