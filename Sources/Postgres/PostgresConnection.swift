import CLibPQ
#if canImport(Glibc)
import Glibc
#endif
import NIOPosix

/// A leased connection, valid inside ``PostgresPool/withConnection(_:)`` or
/// ``PostgresPool/withTransaction(_:)``. Do not keep it past the closure.
public struct PostgresConnection: Sendable {
    let handle: PostgresConnectionHandle
    let waiter: PostgresSocketWaiter
    /// For what still blocks: migration scripts.
    let threadPool: NIOThreadPool

    /// Runs a statement and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) async throws(PostgresError) -> [PostgresRow] {
        try await run(sql, parameters).rows
    }

    /// Runs a statement and returns how many rows it inserted, updated or deleted.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [PostgresValue] = []) async throws(PostgresError) -> Int {
        try await run(sql, parameters).affectedRows
    }

    private func run(_ sql: String, _ parameters: [PostgresValue]) async throws(PostgresError) -> PostgresResult {
        try await handle.execute(sql, parameters, waiter: waiter)
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var result = self
        while let last = result.last, last.isWhitespace { result.removeLast() }
        return result
    }
}

extension PostgresConnectionHandle {
    /// Runs a script of several statements without parameters (migrations). Blocking.
    func executeScript(_ sql: String) throws(PostgresError) {
        let result = PQexec(connection, sql)
        defer { PQclear(result) }
        guard let result else { try fail(nil) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY: return
        default: try fail(result)
        }
    }
}

extension PostgresConnection {
    /// Runs a script of several statements, such as a migration file. It takes no parameters:
    /// never build one from outside input.
    public func executeScript(_ sql: String) async throws(PostgresError) {
        let handle = self.handle
        do {
            try await threadPool.runIfActive { try handle.executeScript(sql) }
        } catch let error as PostgresError {
            throw error
        } catch {
            throw PostgresError(.closed, message: "the pool's threads are stopped")
        }
    }
}
