import CLibPQ
import Glibc

/// A libpq connection (`PGconn`).
///
/// `@unchecked Sendable` because the pool hands it to one task at a time (a lease), and every
/// libpq call on it runs inside that lease (statements on the task's own thread, opening and
/// scripts on the pool's threads); so the connection moves between threads but is never used
/// by two at once.
final class PostgresConnectionHandle: @unchecked Sendable {
    let connection: OpaquePointer
    let id: Int
    private(set) var isBroken = false
    /// Statements prepared on this connection, by SQL text. The worker runs a few dozen distinct
    /// statements; planning each anew cost PostgreSQL about as much CPU as running them.
    private var prepared: [String: String] = [:]
    static let maximumPrepared = 200
    /// False behind a pooler in transaction mode: every statement is parsed, bound and run in
    /// one round trip, unnamed.
    private(set) var preparesStatements = true

    private init(connection: OpaquePointer, id: Int) {
        self.connection = connection
        self.id = id
    }

    deinit {
        PQfinish(connection)
    }

    /// Blocking: call on the thread pool.
    static func open(_ configuration: PostgresConfiguration, id: Int) throws(PostgresError) -> PostgresConnectionHandle {
        do {
            let handle = try open(configuration, id: id, startupOptions: true)
            handle.preparesStatements = configuration.preparesStatements
            return handle
        } catch where configuration.genericPlans && error.message.contains("plan_cache_mode") {
            // A server before 12 does not know the setting and refuses the connection over it:
            // it keeps its default plans. (A startup option, not a SET after connecting: behind a
            // pooler that ignores `options`, a SET would stay on a server connection that other
            // clients share.)
            var without = configuration
            without.genericPlans = false
            return try open(without, id: id)
        } catch where error.message.contains("unsupported startup parameter") {
            // PgBouncer refuses the `options` startup parameter: a pooler is in between, which in
            // transaction mode may run each statement on another server connection, so nothing
            // is prepared by name either.
            let handle = try open(configuration, id: id, startupOptions: false)
            handle.preparesStatements = false
            return handle
        }
    }

    private static func open(_ configuration: PostgresConfiguration, id: Int, startupOptions: Bool) throws(PostgresError) -> PostgresConnectionHandle {
        let parameters = configuration.connectionParameters(startupOptions: startupOptions)
        var keywords = parameters.map { strdup($0.0) } + [nil]
        var values = parameters.map { strdup($0.1) } + [nil]
        defer {
            for pointer in keywords { free(pointer) }
            for pointer in values { free(pointer) }
        }
        let connection: OpaquePointer? = keywords.withUnsafeMutableBufferPointer { keywordBuffer in
            values.withUnsafeMutableBufferPointer { valueBuffer in
                keywordBuffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: keywordBuffer.count) { k in
                    valueBuffer.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: valueBuffer.count) { v in
                        PQconnectdbParams(k, v, 0)
                    }
                }
            }
        }
        guard let connection else {
            throw PostgresError(.connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingTrailingWhitespace()
            PQfinish(connection)
            throw PostgresError(.connectionFailed, message: "cannot connect to \(configuration.redactedURL): \(message)")
        }
        // libpq prints server NOTICEs ("relation already exists, skipping") to stderr by
        // default; they are not errors and would clutter the worker's logs.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        // Statements are sent and their answers read without blocking (see `answer`);
        // `PQexec`, used for migration scripts on the pool's threads, still blocks.
        guard PQsetnonblocking(connection, 1) == 0 else {
            PQfinish(connection)
            throw PostgresError(.connectionFailed, message: "libpq could not make the connection non-blocking")
        }
        return PostgresConnectionHandle(connection: connection, id: id)
    }

    /// Runs one statement with parameters (`$1`, `$2`, …), waiting for the answer in `waiter`.
    ///
    /// A statement with parameters is prepared once per connection and then only executed.
    func execute(_ sql: String, _ parameters: [PostgresValue], waiter: PostgresSocketWaiter) async throws(PostgresError) -> PostgresResult {
        let texts = parameters.map(\.textForm)
        // libpq takes each value as a C string: a NUL would silently cut it, and the statement
        // would run with a different value than the caller passed (PostgreSQL text cannot
        // hold NUL either).
        if let index = texts.firstIndex(where: { $0?.utf8.contains(0) == true }) {
            throw PostgresError(.invalidParameter, message: "parameter $\(index + 1) contains a NUL character")
        }
        let name = parameters.isEmpty || !preparesStatements ? nil : try await preparedName(sql, parameterCount: parameters.count, waiter: waiter)
        var result = try await run(sql, name: name, texts, waiter: waiter)
        // A table changed under a prepared `SELECT *` (a migration): forget the plans, once.
        if name != nil, let failed = result, PQresultStatus(failed) == PGRES_FATAL_ERROR,
           let state = PQresultErrorField(failed, Int32(UInt8(ascii: "C"))), String(cString: state) == "0A000" {
            PQclear(failed)
            result = nil
            try await forgetPrepared(waiter: waiter)
            result = try await run(sql, name: try await preparedName(sql, parameterCount: parameters.count, waiter: waiter), texts, waiter: waiter)
        }
        // A named statement the server connection does not know (26000) or already has (42P05):
        // a pooler in transaction mode moved us to another server connection. From now on this
        // connection prepares nothing; the error is retryable.
        if name != nil, let failed = result, PQresultStatus(failed) == PGRES_FATAL_ERROR,
           let state = PQresultErrorField(failed, Int32(UInt8(ascii: "C"))), ["26000", "42P05"].contains(String(cString: state)) {
            preparesStatements = false
            prepared = [:]
        }
        defer { PQclear(result) }
        guard let result else {
            try fail(nil)
        }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(result)
        default:
            try fail(result)
        }
    }

    /// Sends the statement (prepared as `name`, or with its text) and returns its result.
    private func run(_ sql: String, name: String?, _ texts: [String?], waiter: PostgresSocketWaiter) async throws(PostgresError) -> OpaquePointer? {
        var pointers: [UnsafeMutablePointer<CChar>?] = texts.map { $0.flatMap { strdup($0) } }
        let sent = pointers.withUnsafeMutableBufferPointer { buffer in
            buffer.baseAddress.map { base in
                base.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: buffer.count) { values in
                    if let name { return PQsendQueryPrepared(connection, name, Int32(texts.count), values, nil, nil, 0) }
                    return PQsendQueryParams(connection, sql, Int32(texts.count), nil, values, nil, nil, 0)
                }
            } ?? PQsendQueryParams(connection, sql, 0, nil, nil, nil, nil, 0)
        }
        for pointer in pointers { free(pointer) }
        // Not sent: the connection is gone, or it still had an answer pending.
        guard sent == 1 else { try lost() }
        return try await answer(waiter: waiter)
    }

    /// Finishes sending what was queued and waits for every result of it; returns the last one,
    /// as `PQexec` does. Never blocks: the connection is in non-blocking mode, and every wait is
    /// a suspension in `waiter`.
    private func answer(waiter: PostgresSocketWaiter) async throws(PostgresError) -> OpaquePointer? {
        let socket = PQsocket(connection)
        func waitForSocket(writable: Bool = false) async throws(PostgresError) {
            guard await waiter.wait(for: socket, writable: writable) else {
                // The statement's answer is still to come; nobody will read it.
                isBroken = true
                throw PostgresError(.closed, message: "the pool is closed")
            }
            if PQconsumeInput(connection) == 0 {
                try lost()
            }
        }
        while true {
            let flushed = PQflush(connection)
            if flushed == 0 { break }
            if flushed < 0 {
                try lost()
            }
            // The server may be sending while we wait to send (a notice): read as well.
            try await waitForSocket(writable: true)
        }
        var last: OpaquePointer?
        while true {
            while PQisBusy(connection) != 0 {
                do { try await waitForSocket() } catch {
                    PQclear(last)
                    throw error
                }
            }
            guard let next = PQgetResult(connection) else { return last }
            PQclear(last)
            last = next
        }
    }

    /// Whether the server is gone from this idle connection (a restart, `pg_terminate_backend`,
    /// `idle_session_timeout`). An idle connection has nothing to read, so anything readable is
    /// the server's parting error or end of file; taking it would fail the caller's first
    /// statement. (The pool does not LISTEN; anything else readable, such as TLS housekeeping,
    /// costs one needless reconnect.) One non-blocking poll(2), cheap enough for every lease.
    func closedWhileIdle() -> Bool {
        let socket = PQsocket(connection)
        guard socket >= 0 else { return true }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, 0) > 0 else { return false }
        isBroken = true
        return true
    }

    /// The name of `sql` prepared on this connection (preparing it now if needed), or nil when
    /// the cache is full (then the statement runs unprepared).
    private func preparedName(_ sql: String, parameterCount: Int, waiter: PostgresSocketWaiter) async throws(PostgresError) -> String? {
        if let name = prepared[sql] { return name }
        guard prepared.count < Self.maximumPrepared else { return nil }
        let name = "itsm_\(prepared.count)"
        guard PQsendPrepare(connection, name, sql, Int32(parameterCount), nil) == 1 else {
            try lost()
        }
        let result = try await answer(waiter: waiter)
        defer { PQclear(result) }
        guard let result, PQresultStatus(result) == PGRES_COMMAND_OK else {
            // Another client's statement of that name on this server connection: a pooler.
            if let result, let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))), String(cString: state) == "42P05" {
                preparesStatements = false
                prepared = [:]
            }
            try fail(result)
        }
        prepared[sql] = name
        return name
    }

    private func forgetPrepared(waiter: PostgresSocketWaiter) async throws(PostgresError) {
        guard PQsendQuery(connection, "DEALLOCATE ALL") == 1 else {
            try lost()
        }
        PQclear(try await answer(waiter: waiter))
        prepared = [:]
    }

    /// Sending or reading failed on this connection: it is not used again, and the statement
    /// may be retried on another.
    private func lost() throws(PostgresError) -> Never {
        isBroken = true
        let message = String(cString: PQerrorMessage(connection)).trimmingTrailingWhitespace()
        throw PostgresError(.connectionLost, message: message.isEmpty ? "the server closed the connection" : message)
    }

    func fail(_ result: OpaquePointer?) throws(PostgresError) -> Never {
        if PQstatus(connection) != CONNECTION_OK {
            isBroken = true
            let message = String(cString: PQerrorMessage(connection)).trimmingTrailingWhitespace()
            throw PostgresError(.connectionLost, message: message.isEmpty ? "the server closed the connection" : message)
        }
        func field(_ code: Int32) -> String? {
            guard let result, let value = PQresultErrorField(result, code) else { return nil }
            return String(cString: value)
        }
        let sqlState = field(Int32(UInt8(ascii: "C")))
        let message = field(Int32(UInt8(ascii: "M"))) ?? String(cString: PQerrorMessage(connection)).trimmingTrailingWhitespace()
        let detail = field(Int32(UInt8(ascii: "D")))
        // 57P01 admin_shutdown etc. arrive as a server error and then the connection is gone.
        if let sqlState, sqlState.hasPrefix("57P") || sqlState.hasPrefix("08") { isBroken = true }
        throw PostgresError(.server, sqlState: sqlState, message: message, detail: detail)
    }
}
