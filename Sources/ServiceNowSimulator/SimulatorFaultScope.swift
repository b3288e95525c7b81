/// Which requests a fault applies to.
public enum SimulatorFaultScope: String, Sendable {
    case all, api, token
}
