import Foundation

/// One row of a result, read by column name.
public struct PostgresRow: Sendable {
    let columns: PostgresColumns
    let values: [String?]

    /// The cell of `column`; reading a column the query did not return is a decoding error.
    public subscript(_ column: String) -> PostgresCell {
        guard let index = columns.index[column] else {
            return PostgresCell(column: column, text: nil, missing: true)
        }
        return PostgresCell(column: column, text: values[index], missing: false)
    }

    public var columnNames: [String] { columns.names }
}
