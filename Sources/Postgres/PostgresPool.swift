import Coordination
import Logging
import NIOPosix

/// A bounded pool of PostgreSQL connections, usable from many tasks at once.
///
/// Connections are opened on demand up to ``PostgresConfiguration/maximumConnections`` and
/// leased to one task at a time with ``withConnection(_:)`` or ``withTransaction(_:)``. A
/// statement is sent from the task that runs it, with libpq in non-blocking mode, and the task
/// suspends until the answer is there (``PostgresSocketWaiter``); what libpq can only do
/// blocking (opening a connection, a migration script) runs on the pool's own threads, never on
/// Swift's cooperative thread pool or an event loop. A connection that breaks during a call
/// (server restart, `pg_terminate_backend`) fails the call with a retryable ``PostgresError``
/// and is replaced; one the server closed while it sat idle is replaced before it is leased.
///
/// ```swift
/// let pool = try PostgresPool(configuration: PostgresConfiguration(url: "postgres://itsm:itsm@127.0.0.1/itsm"), logger: logger)
/// let rows = try await pool.query("SELECT name FROM things WHERE id = $1", [.int(7)])
/// try await pool.withTransaction { connection in
///     try await connection.execute("UPDATE things SET n = n + 1 WHERE id = $1", [7])
/// }
/// await pool.close()
/// ```
public final class PostgresPool: Sendable {
    public let configuration: PostgresConfiguration
    private let logger: Logger
    /// Opens connections and runs migration scripts (libpq blocks there).
    private let threadPool: NIOThreadPool
    /// Where statements wait for their answers.
    private let waiter: PostgresSocketWaiter

    private struct State {
        var idle: [PostgresConnectionHandle] = []
        var open = 0
        var nextID = 0
        var closed = false

        mutating func newID() -> Int {
            nextID += 1
            return nextID
        }
    }

    /// What a task that asked for a connection gets.
    private enum Grant: Sendable {
        case use(PostgresConnectionHandle)
        /// The right to open a new connection (a free slot), with its id.
        case open(id: Int)
        case failed(PostgresError)
        case timedOut
        case cancelled
    }

    /// Tasks waiting for a connection park here; a returned connection, or the slot of a
    /// discarded one, passes straight to the longest waiting one.
    private let lot: ParkingLot<State, Grant>

    public init(configuration: PostgresConfiguration, logger: Logger) {
        precondition(configuration.maximumConnections > 0, "a pool needs at least one connection")
        self.configuration = configuration
        self.logger = logger
        self.lot = ParkingLot(State())
        // Statements do not use these threads (they wait on `waiter`); only opening a connection
        // and migration scripts block here, rare and at start. Every thread kept costs its stack
        // and, once it allocates, a malloc arena of its own: about 1 MB of an idle worker's RSS
        // for the six a pool of eight would add.
        self.threadPool = NIOThreadPool(numberOfThreads: min(configuration.maximumConnections, Self.openingThreads))
        threadPool.start()
        self.waiter = PostgresSocketWaiter()
    }

    deinit {
        // Not in `close()`: a statement already sent when the pool closes still gets its answer,
        // as one running on the pool's threads did.
        waiter.close()
    }

    /// Connections opened at once at most; more wait for a thread. A connection to a server
    /// that answers opens in milliseconds, and all of them go to the same server. The price is
    /// paid when connects hang (a server that drops packets): the third and later opens start
    /// only as earlier ones give up, so their callers learn of the failure a `connect_timeout`
    /// or more later than the first two.
    static let openingThreads = 2

    /// Connections open right now (leased or idle).
    public var openConnections: Int { lot.withLock { state, _ in state.open } }

    /// Leases a connection for `body`; it returns to the pool afterwards (or is discarded if it
    /// broke). Waits at most ``PostgresConfiguration/acquireTimeout`` for a free one.
    public func withConnection<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        let handle = try await acquire()
        defer { release(handle) }
        return try await body(PostgresConnection(handle: handle, waiter: waiter, threadPool: threadPool))
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    public func withTransaction<T>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { connection in
            try await connection.execute("BEGIN")
            do {
                let result = try await body(connection)
                try await connection.execute("COMMIT")
                return result
            } catch {
                if !connection.handle.isBroken {
                    do { try await connection.execute("ROLLBACK") } catch {
                        logger.debug("rollback failed", metadata: ["error": "\(error)"])
                    }
                }
                throw error
            }
        }
    }

    /// Opens connections until `count` are open (at most the pool's maximum) and returns how many
    /// are. A connection opened on demand costs a server process, authentication and cold
    /// caches at the moment the load rises, which on a busy server stalls everything in flight;
    /// opening them ahead pays that before the first message. A connection that cannot be
    /// opened is logged and left to be opened on demand later.
    @discardableResult
    public func warmUp(to count: Int) async -> Int {
        let target = min(count, configuration.maximumConnections)
        while true {
            let id: Int? = lot.withLock { state, _ in
                guard !state.closed, state.open < target else { return nil }
                state.open += 1
                return state.newID()
            }
            guard let id else { break }
            do {
                release(try await open(id: id))
            } catch {
                logger.warning("could not open a PostgreSQL connection ahead of use", metadata: ["error": "\(error)"])
                break
            }
        }
        return openConnections
    }

    /// Runs one statement on a pooled connection and returns its rows.
    @discardableResult
    public func query(_ sql: String, _ parameters: [PostgresValue] = []) async throws -> [PostgresRow] {
        try await withConnection { try await $0.query(sql, parameters) }
    }

    /// Runs one statement on a pooled connection and returns the affected row count.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [PostgresValue] = []) async throws -> Int {
        try await withConnection { try await $0.execute(sql, parameters) }
    }

    /// Closes idle connections, fails waiters, and stops the threads. Leased connections are
    /// closed when they come back.
    public func close() async {
        lot.withLock { state, waiters in
            state.closed = true
            state.idle = []
            waiters.resumeAll(with: .failed(PostgresError(.closed, message: "the pool is closed")))
        }
        try? await threadPool.shutdownGracefully()
    }

    // MARK: - Leasing

    private func acquire() async throws(PostgresError) -> PostgresConnectionHandle {
        let maximum = configuration.maximumConnections
        let grant = await lot.park(timeout: configuration.acquireTimeout, onTimeout: .timedOut, onCancel: .cancelled) { state, _ in
            if state.closed { return .failed(PostgresError(.closed, message: "the pool is closed")) }
            if let handle = state.idle.popLast() { return .use(handle) }
            guard state.open < maximum else { return nil }
            state.open += 1
            return .open(id: state.newID())
        }
        switch grant {
        case .use(let handle):
            guard handle.closedWhileIdle() else { return handle }
            // Its slot opens the replacement; the server's other idle connections, if it
            // restarted, are found the same way as they are leased.
            logger.info("replacing a PostgreSQL connection the server closed while it was idle", metadata: ["postgres.connection": "\(handle.id)"])
            return try await open(id: lot.withLock { state, _ in state.newID() })
        case .open(let id):
            return try await open(id: id)
        case .failed(let error):
            throw error
        case .timedOut:
            throw PostgresError(.poolExhausted, message: "no connection free within \(configuration.acquireTimeout) (pool of \(maximum))")
        case .cancelled:
            throw PostgresError(.poolExhausted, message: "cancelled while waiting for a connection")
        }
    }

    private func open(id: Int) async throws(PostgresError) -> PostgresConnectionHandle {
        let configuration = self.configuration
        do {
            let handle = try await threadPool.runIfActive { try PostgresConnectionHandle.open(configuration, id: id) }
            logger.debug("PostgreSQL connection opened", metadata: ["postgres.connection": "\(id)"])
            return handle
        } catch {
            // The slot is free again; let a waiter try its luck.
            slotFreed()
            if let error = error as? PostgresError { throw error }
            throw PostgresError(.closed, message: "the pool's threads are stopped")
        }
    }

    private func release(_ handle: PostgresConnectionHandle) {
        if handle.isBroken {
            logger.warning("discarding a broken PostgreSQL connection", metadata: ["postgres.connection": "\(handle.id)"])
            slotFreed()
            return
        }
        lot.withLock { state, waiters in
            if state.closed {
                state.open -= 1
            } else if !waiters.resumeFirst(with: .use(handle)) {
                state.idle.append(handle)
            }
        }
    }

    private func slotFreed() {
        lot.withLock { state, waiters in
            // The waiter inherits the slot and opens the replacement itself.
            if state.closed || !waiters.resumeFirst(with: .open(id: state.newID())) {
                state.open -= 1
            }
        }
    }
}
