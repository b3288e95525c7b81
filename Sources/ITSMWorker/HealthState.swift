import Foundation
import Synchronization

/// What `/readyz` reports, kept fresh by ``HealthSampler``.
public final class HealthState: Sendable {
    private let database = Atomic<Bool>(false)
    private let port = Atomic<Int>(0)

    public init() {}

    public var databaseReachable: Bool { database.load(ordering: .relaxed) }
    func setDatabase(_ reachable: Bool) { database.store(reachable, ordering: .relaxed) }

    /// The port `/metrics`, `/healthz` and `/readyz` listen on (useful with ITSM_HTTP_PORT=0).
    public var httpPort: Int { port.load(ordering: .relaxed) }
    func setPort(_ value: Int) { port.store(value, ordering: .relaxed) }
}
