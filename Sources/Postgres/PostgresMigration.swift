import Foundation

/// One numbered schema change.
public struct PostgresMigration: Sendable, Hashable {
    public let version: Int
    public let name: String
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Reads `NNNN_name.sql` files from a folder, ordered by number.
    public static func load(from directory: URL) throws -> [PostgresMigration] {
        let files = try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
        var migrations: [PostgresMigration] = []
        for file in files where file.pathExtension == "sql" {
            let base = file.deletingPathExtension().lastPathComponent
            guard let separator = base.firstIndex(of: "_"), let version = Int(base[..<separator]) else {
                throw PostgresError(.invalidConfiguration, message: "migration file \(file.lastPathComponent) is not named NNNN_name.sql")
            }
            let sql = try String(contentsOf: file, encoding: .utf8)
            migrations.append(PostgresMigration(version: version, name: String(base[base.index(after: separator)...]), sql: sql))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw PostgresError(.invalidConfiguration, message: "two migrations are numbered \(a.version)")
        }
        return migrations
    }
}
