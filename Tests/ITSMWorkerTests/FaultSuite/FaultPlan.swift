import Foundation

/// How hard the suite pushes, from `ITSM_FAULT_SUITE`.
struct FaultPlan: Sendable {
    let name: String
    let rounds: Int
    let ratePerSecond: Double
    let hostileMessages: Int
    let outage: Duration
    let drainSeconds: Double
    let seed: UInt64

    static var current: FaultPlan? {
        let environment = ProcessInfo.processInfo.environment
        let seed = environment["ITSM_FAULT_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...999_999)
        switch environment["ITSM_FAULT_SUITE"]?.lowercased() {
        case "quick":
            return FaultPlan(name: "quick", rounds: 1, ratePerSecond: 6, hostileMessages: 1_200, outage: .seconds(60), drainSeconds: 240, seed: seed)
        case "long":
            return FaultPlan(name: "long", rounds: 3, ratePerSecond: 10, hostileMessages: 5_000, outage: .seconds(60), drainSeconds: 360, seed: seed)
        default:
            return nil
        }
    }
}
