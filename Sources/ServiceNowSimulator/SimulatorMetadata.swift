/// What a stock instance's metadata tables say about `incident` (and the parts of `task` it
/// inherits): columns in `sys_dictionary`, choice lists in `sys_choice`.
enum SimulatorMetadata {
    struct Column {
        let table: String
        let element: String
        let label: String
        let type: String
        let maxLength: Int
        let mandatory: Bool
        let reference: String?
    }

    static let columns: [Column] = [
        Column(table: "task", element: "number", label: "Number", type: "string", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "task", element: "state", label: "State", type: "integer", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "task", element: "short_description", label: "Short description", type: "string", maxLength: 160, mandatory: true, reference: nil),
        Column(table: "task", element: "description", label: "Description", type: "string", maxLength: 4000, mandatory: false, reference: nil),
        Column(table: "task", element: "impact", label: "Impact", type: "integer", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "task", element: "urgency", label: "Urgency", type: "integer", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "task", element: "priority", label: "Priority", type: "integer", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "task", element: "assignment_group", label: "Assignment group", type: "reference", maxLength: 32, mandatory: false, reference: "sys_user_group"),
        Column(table: "task", element: "assigned_to", label: "Assigned to", type: "reference", maxLength: 32, mandatory: false, reference: "sys_user"),
        Column(table: "task", element: "cmdb_ci", label: "Configuration item", type: "reference", maxLength: 32, mandatory: false, reference: "cmdb_ci"),
        Column(table: "task", element: "business_service", label: "Service", type: "reference", maxLength: 32, mandatory: false, reference: "cmdb_ci_service"),
        Column(table: "task", element: "service_offering", label: "Service offering", type: "reference", maxLength: 32, mandatory: false, reference: "service_offering"),
        Column(table: "task", element: "work_notes", label: "Work notes", type: "journal_input", maxLength: 4000, mandatory: false, reference: nil),
        Column(table: "task", element: "comments", label: "Additional comments", type: "journal_input", maxLength: 4000, mandatory: false, reference: nil),
        Column(table: "task", element: "correlation_id", label: "Correlation ID", type: "string", maxLength: 100, mandatory: false, reference: nil),
        Column(table: "task", element: "correlation_display", label: "Correlation display", type: "string", maxLength: 100, mandatory: false, reference: nil),
        Column(table: "task", element: "active", label: "Active", type: "boolean", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "task", element: "opened_at", label: "Opened", type: "glide_date_time", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "task", element: "closed_at", label: "Closed", type: "glide_date_time", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "task", element: "close_notes", label: "Close notes", type: "string", maxLength: 4000, mandatory: false, reference: nil),
        Column(table: "incident", element: "caller_id", label: "Caller", type: "reference", maxLength: 32, mandatory: false, reference: "sys_user"),
        Column(table: "incident", element: "category", label: "Category", type: "string", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "incident", element: "subcategory", label: "Subcategory", type: "string", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "incident", element: "close_code", label: "Resolution code", type: "string", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "incident", element: "incident_state", label: "Incident state", type: "integer", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "incident", element: "hold_reason", label: "On hold reason", type: "integer", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "incident", element: "resolved_at", label: "Resolved", type: "glide_date_time", maxLength: 40, mandatory: false, reference: nil),
        Column(table: "incident", element: "reopen_count", label: "Reopen count", type: "integer", maxLength: 40, mandatory: false, reference: nil),
    ]

    /// (field, value, label, dependent value)
    static let choices: [(String, String, String, String?)] = [
        ("state", "1", "New", nil), ("state", "2", "In Progress", nil), ("state", "3", "On Hold", nil),
        ("state", "6", "Resolved", nil), ("state", "7", "Closed", nil), ("state", "8", "Canceled", nil),
        ("impact", "1", "1 - High", nil), ("impact", "2", "2 - Medium", nil), ("impact", "3", "3 - Low", nil),
        ("urgency", "1", "1 - High", nil), ("urgency", "2", "2 - Medium", nil), ("urgency", "3", "3 - Low", nil),
        ("hold_reason", "1", "Awaiting Caller", nil), ("hold_reason", "3", "Awaiting Problem", nil),
        ("hold_reason", "4", "Awaiting Vendor", nil), ("hold_reason", "5", "Awaiting Change", nil),
        ("category", "inquiry", "Inquiry / Help", nil), ("category", "software", "Software", nil),
        ("category", "hardware", "Hardware", nil), ("category", "network", "Network", nil), ("category", "database", "Database", nil),
        ("subcategory", "dns", "DNS", "network"), ("subcategory", "dhcp", "DHCP", "network"), ("subcategory", "vpn", "VPN", "network"),
        ("subcategory", "wireless", "Wireless", "network"), ("subcategory", "cpu", "CPU", "hardware"),
        ("subcategory", "memory", "Memory", "hardware"), ("subcategory", "disk", "Disk", "hardware"),
        ("close_code", "Solution provided", "Solution provided", nil), ("close_code", "Workaround provided", "Workaround provided", nil),
        ("close_code", "Resolved by caller", "Resolved by caller", nil), ("close_code", "Resolved by change", "Resolved by change", nil),
        ("close_code", "Resolved by problem", "Resolved by problem", nil), ("close_code", "Duplicate", "Duplicate", nil),
        ("close_code", "Known error", "Known error", nil), ("close_code", "No resolution provided", "No resolution provided", nil),
        ("close_code", "User error", "User error", nil),
    ]

    /// Reference tables with a few rows each: (table, name).
    static let referenceRows: [(String, String)] = [
        ("sys_user_group", "Network Operations"), ("sys_user_group", "Service Desk"), ("sys_user_group", "Database"),
        ("sys_user_group", "Hardware"), ("sys_user_group", "Network"), ("sys_user_group", "Network"), ("sys_user_group", "Restricted Ops"),
        ("sys_user", "Dana Ops"), ("sys_user", "itsm.integration"), ("sys_user", "System Administrator"),
        ("cmdb_ci_service", "Corporate Network"), ("cmdb_ci_service", "Email"),
        ("service_offering", "Corporate Network - Gold"),
    ]

    /// Configuration items (name, IP): two share a name, so a lookup by it is ambiguous.
    static let configurationItems: [(String, String)] = [
        ("core-sw-01", "10.0.0.1"), ("edge-rt-02", "10.0.0.2"), ("lab-sw", "10.9.0.1"), ("lab-sw", "10.9.0.2"),
    ]

    static let tables = ["task", "incident", "sys_user_group", "sys_user", "cmdb_ci", "cmdb_ci_service", "service_offering",
                         "sys_db_object", "sys_dictionary", "sys_choice", "sys_journal_field"]
}
