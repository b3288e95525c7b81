/// One value of a choice list, from `sys_choice`.
public struct ServiceNowChoice: Sendable, Hashable, Codable {
    public var value: String
    public var label: String
    /// For dependent lists (`subcategory` on `category`): the controlling value.
    public var dependentValue: String?

    public init(value: String, label: String, dependentValue: String? = nil) {
        self.value = value
        self.label = label
        self.dependentValue = dependentValue
    }
}
