import Foundation

/// ServiceNow's encoded query language, as far as the worker uses it: `field=value` joined with
/// `^` (AND), `^OR` (OR with the previous condition), `^NQ` (a new OR'ed query), operators `=`,
/// `!=`, `IN`, `NOT IN`, `LIKE`, `NOT LIKE`, `STARTSWITH`, `ENDSWITH`, `>`, `>=`, `<`, `<=`,
/// `ISEMPTY`, `ISNOTEMPTY`, and `ORDERBYfield` / `ORDERBYDESCfield`.
///
/// As on a real instance, a condition on an unknown field is ignored rather than rejected, so a
/// typo can match every row.
struct EncodedQuery: Sendable {
    struct Condition: Sendable {
        let field: String
        let op: String
        let value: String
        /// For `IN` / `NOT IN`: the list, parsed once per query rather than once per row.
        let values: Set<String>

        init(field: String, op: String, value: String) {
            self.field = field
            self.op = op
            self.value = value
            self.values = op.hasSuffix("IN") ? Set(value.split(separator: ",").map(String.init)) : []
        }
    }

    /// OR of groups; each group is AND of terms; each term is OR of conditions.
    let groups: [[[Condition]]]
    let orderBy: [(field: String, descending: Bool)]

    private static let operators = ["ISNOTEMPTY", "ISEMPTY", "NOT IN", "NOT LIKE", "STARTSWITH", "ENDSWITH", "LIKE", "IN", "!=", ">=", "<=", ">", "<", "="]

    /// `knownFields` are the table's columns: a condition starts with one of them (values such
    /// as sys_ids are made of the same characters as names, so only the names can split them).
    init(_ text: String, knownFields: Set<String>) {
        let names = knownFields.sorted { $0.count > $1.count }
        var groups: [[[Condition]]] = []
        var orderBy: [(String, Bool)] = []
        for groupText in text.components(separatedBy: "^NQ") {
            var terms: [[Condition]] = []
            for token in groupText.split(separator: "^", omittingEmptySubsequences: true).map(String.init) {
                if token.hasPrefix("ORDERBYDESC") {
                    orderBy.append((String(token.dropFirst("ORDERBYDESC".count)), true))
                } else if token.hasPrefix("ORDERBY") {
                    orderBy.append((String(token.dropFirst("ORDERBY".count)), false))
                } else if token.hasPrefix("OR"), !terms.isEmpty, let condition = Self.condition(String(token.dropFirst(2)), names) {
                    terms[terms.count - 1].append(condition)
                } else if let condition = Self.condition(token, names) {
                    terms.append([condition])
                } else {
                    // An unknown field: ServiceNow ignores the condition and filters on the rest.
                    terms.append([])
                }
            }
            groups.append(terms)
        }
        self.groups = groups
        self.orderBy = orderBy
    }

    private static func condition(_ token: String, _ names: [String]) -> Condition? {
        for field in names where token.hasPrefix(field) {
            let rest = token.dropFirst(field.count)
            for op in operators where rest.hasPrefix(op) {
                return Condition(field: field, op: op, value: String(rest.dropFirst(op.count)))
            }
        }
        return nil
    }

    /// Whether `record` matches; `knownFields` decides which conditions count.
    func matches(_ record: [String: String]) -> Bool {
        if groups.isEmpty { return true }
        return groups.contains { terms in
            terms.allSatisfy { alternatives in
                alternatives.isEmpty || alternatives.contains { Self.evaluate($0, record[$0.field] ?? "") }
            }
        }
    }

    static func evaluate(_ condition: Condition, _ actual: String) -> Bool {
        let expected = condition.value
        switch condition.op {
        case "=": return actual == expected
        case "!=": return actual != expected
        case "IN": return condition.values.contains(actual)
        case "NOT IN": return !condition.values.contains(actual)
        case "LIKE": return actual.contains(expected)
        case "NOT LIKE": return !actual.contains(expected)
        case "STARTSWITH": return actual.hasPrefix(expected)
        case "ENDSWITH": return actual.hasSuffix(expected)
        case "ISEMPTY": return actual.isEmpty
        case "ISNOTEMPTY": return !actual.isEmpty
        case ">": return compare(actual, expected) > 0
        case ">=": return compare(actual, expected) >= 0
        case "<": return compare(actual, expected) < 0
        case "<=": return compare(actual, expected) <= 0
        default: return true
        }
    }

    /// Numbers compare as numbers; everything else (dates are `YYYY-MM-DD HH:MM:SS`) as text.
    static func compare(_ a: String, _ b: String) -> Int {
        if let x = Double(a), let y = Double(b) { return x < y ? -1 : (x > y ? 1 : 0) }
        return a < b ? -1 : (a > b ? 1 : 0)
    }

    func sort(_ records: inout [[String: String]]) {
        guard !orderBy.isEmpty else { return }
        records.sort { left, right in
            for (field, descending) in orderBy {
                let c = Self.compare(left[field] ?? "", right[field] ?? "")
                if c != 0 { return descending ? c > 0 : c < 0 }
            }
            return false
        }
    }
}
