import Foundation

/// A mapping field bound to a record of the instance by the alert's values:
/// `{"lookup": "cmdb_ci", "by": ["name", "ip_address"], "from": ["alert.device.name", "alert.device.ip"]}`.
public struct RecordLookup: Sendable, Equatable {
    public var table: String
    /// Columns of `table`, tried in order.
    public var by: [String]
    /// Alert variables whose values are matched against `by`, pairwise.
    public var from: [String]

    public init(table: String, by: [String], from: [String]) {
        self.table = table
        self.by = by
        self.from = from
    }

    /// A lookup with its alert's values: the (column, value) pairs to try in order, without
    /// those the alert has no value for.
    public struct Request: Sendable, Equatable {
        public var table: String
        public var pairs: [Pair]

        public struct Pair: Sendable, Equatable {
            public var column: String
            public var value: String

            public init(column: String, value: String) {
                self.column = column
                self.value = value
            }
        }

        public init(table: String, pairs: [Pair]) {
            self.table = table
            self.pairs = pairs
        }

        /// In words: `name=core-sw-01, then ip_address=10.0.0.1`.
        public var description: String {
            pairs.isEmpty ? "(the alert has none of the values)" : pairs.map { "\($0.column)=\($0.value)" }.joined(separator: ", then ")
        }
    }

    public func request(for event: AlertEvent) -> Request {
        let pairs = zip(by, from).compactMap { column, variable -> Request.Pair? in
            guard let value = TemplateContext.value(of: variable, in: event)?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty,
                  // A value with `^` or a line break would change the encoded query's meaning.
                  !value.contains("^"), !value.contains(where: \.isNewline) else { return nil }
            return Request.Pair(column: column, value: String(value.prefix(255)))
        }
        return Request(table: table, pairs: pairs)
    }

    func validate(field: String) throws(MappingError) {
        guard AlertMapping.isIdentifier(table) else { throw MappingError(field: field, reason: "lookup table '\(table)' is not a table name") }
        guard !by.isEmpty, by.count == from.count else {
            throw MappingError(field: field, reason: "the lookup needs as many 'from' values as 'by' columns, at least one")
        }
        guard by.count <= 5 else { throw MappingError(field: field, reason: "the lookup tries at most 5 columns") }
        for column in by where !AlertMapping.isIdentifier(column) {
            throw MappingError(field: field, reason: "'\(column)' is not a column name")
        }
        for variable in from where !TemplateCheck.isKnownVariable(variable) {
            throw MappingError(field: field, reason: "lookup source '\(variable)' is not an alert variable (\(TemplateCheck.variableList))")
        }
    }
}
